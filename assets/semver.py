"""Semantic versions (semver.org 2.0.0: parsing, cleaning, ordering) and npm-style ranges.

The `semver` package is not among Jobsite's dependencies, and assets need only what node-semver gives
Teraslice: `clean`/`valid`/`compare` for a bundle's version, ranges for a job's asset references.
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


# --- ranges ---------------------------------------------------------------------------------------------
# npm-style ranges, as Teraslice resolves asset references with them (spec/teraslice.md §6.4: `name:^0.1.0`,
# `name:~1.2`, `name:>=1 <2`, `name:1.x`, `name:0.0.1`, `*`). PEP 440 specifiers (`packaging`) mean
# something else. Prereleases match a range like any other version (Teraslice resolves with
# `includePrerelease`): `^1.0.0` accepts `1.2.0-rc.1`.

_X = r"\d+|[xX*]"
_PART_IDENT = r"[0-9A-Za-z-]+"
PARTIAL = re.compile(
    rf"^[v=]?({_X})(?:\.({_X})(?:\.({_X})(?:-({_PART_IDENT}(?:\.{_PART_IDENT})*))?(?:\+{_PART_IDENT}(?:\.{_PART_IDENT})*)?)?)?$"
)
COMPARATOR = re.compile(r"^(\^|~>?|<=|>=|<|>|=)?\s*(\S+)$")


# The lowest version of a release line, its prereleases included: `<2.0.0-0` excludes 2.0.0-rc too.
def _floor(major: int, minor: int = 0, patch: int = 0) -> Version:
    return Version(major, minor, patch, ("0",))


class Range:
    """An npm range: comparator sets joined by `||`; a set is space-separated comparators or `a - b`."""

    def __init__(self, text: str):
        self.text = text
        self.sets = [self._parse_set(part.strip()) for part in text.split("||")]

    def __contains__(self, version: Version) -> bool:
        return any(all(_compare(version, op, bound) for op, bound in comparators) for comparators in self.sets)

    def _parse_set(self, text: str) -> list[tuple[str, Version]]:
        hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
        if hyphen:
            return self._lower(">=", hyphen.group(1)) + self._lower("<=", hyphen.group(2))
        # `>= 1.2` is written with a space too: join operators to their version first.
        tokens = re.sub(r"(\^|~>?|<=|>=|<|>|=)\s+", r"\1", text).split()
        comparators = []
        for token in tokens or ["*"]:
            match = COMPARATOR.match(token)
            if not match:
                raise ValueError(f'Invalid version range "{self.text}"')
            comparators += self._lower(match.group(1) or "", match.group(2))
        return comparators

    def _lower(self, op: str, text: str) -> list[tuple[str, Version]]:
        """One comparator as primitive (operator, version) pairs."""
        match = PARTIAL.match(text)
        if not match:
            raise ValueError(f'Invalid version range "{self.text}"')
        parts = [None if part is None or part in "xX*" else int(part) for part in match.groups()[:3]]
        pre = tuple(match.group(4).split(".")) if match.group(4) else ()
        major, minor, patch = parts
        if major is None:  # `*`, `x`: any version, except that `<*` and `>*` match none
            return [("<", _floor(0))] if op in ("<", ">") else [(">=", _floor(0))]
        if minor is None or patch is None:  # a partial version: a whole release line
            low = _floor(major, minor or 0)
            high = _floor(major + 1) if minor is None else _floor(major, minor + 1)
            return {
                "": [(">=", low), ("<", high)],
                "=": [(">=", low), ("<", high)],
                "~": [(">=", low), ("<", high)],
                "~>": [(">=", low), ("<", high)],
                "^": [(">=", low), ("<", _floor(major + 1) if major or minor is None else high)],
                ">": [(">=", high)],
                ">=": [(">=", low)],
                "<": [("<", low)],
                "<=": [("<", high)],
            }[op]
        version = Version(major, minor, patch, pre)
        if op in ("~", "~>"):
            return [(">=", version), ("<", _floor(major, minor + 1))]
        if op == "^":
            if major:
                high = _floor(major + 1)
            elif minor:
                high = _floor(0, minor + 1)
            else:
                high = _floor(0, 0, patch + 1)
            return [(">=", version), ("<", high)]
        return [(op or "=", version)]


def _compare(version: Version, op: str, bound: Version) -> bool:
    return {
        "=": version == bound,
        "<": version < bound,
        "<=": version <= bound,
        ">": version > bound,
        ">=": version >= bound,
    }[op]
