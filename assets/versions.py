"""Semantic versions and npm-style version ranges, as Teraslice resolves asset references with them
(spec/teraslice.md §6.4: `name:^0.1.0`, `name:~1.2`, `name:>=1 <2`, `name:1.x`, `name:0.0.1`, `*`).

The `semver` package is not a dependency of Jobsite, and PEP 440 specifiers (`packaging`) mean something
else, so this is the small part of npm's semver that asset references use. Prereleases match a range like
any other version (Teraslice resolves with `includePrerelease`): `^1.0.0` accepts `1.2.0-rc.1`.
"""

import re
from functools import total_ordering

MAX_RANGE_LENGTH = 255

_IDENT = r"[0-9A-Za-z-]+"
VERSION = re.compile(
    rf"^\s*[v=]?\s*(\d+)\.(\d+)\.(\d+)(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?\s*$"
)
_X = r"\d+|[xX*]"
PARTIAL = re.compile(
    rf"^[v=]?({_X})(?:\.({_X})(?:\.({_X})(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+{_IDENT}(?:\.{_IDENT})*)?)?)?$"
)
COMPARATOR = re.compile(r"^(\^|~>?|<=|>=|<|>|=)?\s*(\S+)$")


@total_ordering
class Version:
    """A semantic version (`1.2.3`, `1.2.3-rc.1`; build metadata is ignored in comparisons)."""

    def __init__(self, major: int, minor: int, patch: int, prerelease: tuple = ()):
        self.major, self.minor, self.patch, self.prerelease = major, minor, patch, prerelease

    @classmethod
    def parse(cls, text: str) -> "Version | None":
        """The version `text` spells (a leading `v` or `=` is cleaned, as `semver.clean`), or None."""
        match = VERSION.match(text) if isinstance(text, str) else None
        if not match:
            return None
        major, minor, patch, pre, _build = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())

    def _key(self):
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __eq__(self, other):
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other):
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    __repr__ = __str__


def clean(text: str) -> str | None:
    """`text` as a canonical version string (`v1.2.3` → `1.2.3`), or None when it is not a version."""
    version = Version.parse(text)
    return None if version is None else str(version)


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

    def best(self, versions):
        """The highest of `versions` in the range, or None."""
        return max((version for version in versions if version in self), default=None)

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
