"""Strict semantic versions (semver.org 2.0.0): parsing, cleaning and ordering.

The `semver` package is not among Jobsite's dependencies, and versions here need only what node-semver's
`clean`/`valid`/`compare` give Teraslice, so this is that much and no more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = rf"(?:{_NUMBER}|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_VERSION = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_LENGTH = 64  # the Asset.version column; node-semver allows 256, no real version comes near either


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self):
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _key(self):
        # A release sorts after its prereleases; numeric identifiers sort numerically and before others.
        pre = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __eq__(self, other):
        return isinstance(other, Version) and self._key() == other._key()  # build metadata does not count

    def __lt__(self, other):
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())


def parse(text: str) -> Version | None:
    """The version `text` spells exactly, or None."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return None
    match = _VERSION.match(text)
    if match is None:
        return None
    return Version(
        int(match["major"]),
        int(match["minor"]),
        int(match["patch"]),
        tuple(match["prerelease"].split(".")) if match["prerelease"] else (),
        tuple(match["build"].split(".")) if match["build"] else (),
    )


def clean(text) -> Version | None:
    """node-semver's `clean`: surrounding spaces and a leading `v` or `=` are dropped (`v1.2.3` is 1.2.3)."""
    if not isinstance(text, str):
        return None
    return parse(text.strip().lstrip("=v").strip())
