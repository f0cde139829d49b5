"""Which stored assets a job's `assets` references mean (spec/teraslice.md §6.4).

A reference is an asset name (its highest compatible version), `name:latest` or `name:*` (the same),
`name:<npm range>` (the highest compatible version in the range, prereleases included) or a 40-hex asset
id. Compatible means runnable here: a `python_version` (major.minor) no newer than the running Python, and
`platform`/`arch` equal to this host's, blank being any. Resolution only selects rows; it never reads a
bundle's code. Failures are `Invalid` (400 at submit; Teraslice answers 500, spec/jobsite.md §6).
"""

import platform
import re
import sys

from assets.models import Asset
from assets.semver import Range, clean
from jobsite.errors import Invalid

ASSET_ID = re.compile(r"^[0-9a-f]{40}$")
MAX_REFERENCES = 50
MAX_REFERENCE_LENGTH = 255

# platform.machine() as Node.js names it (`process.arch`), which Teraslice bundles and clients use.
NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64", "i686": "ia32"}


def host_arch() -> str:
    machine = platform.machine().lower()
    return NODE_ARCH.get(machine, machine)


def python_version_tuple(text: str) -> tuple[int, ...] | None:
    """`"3.11"` → (3, 11); None when `text` is not major.minor."""
    match = re.fullmatch(r"(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def compatible(asset: Asset) -> bool:
    """Whether this host can run `asset`'s operations."""
    wanted = python_version_tuple(asset.python_version)
    if asset.python_version and (wanted is None or wanted > sys.version_info[:2]):
        return False
    return asset.platform in ("", sys.platform) and asset.arch in ("", host_arch())


def split_reference(reference: str) -> tuple[str, str]:
    """`name:range` → (name, range); a bare name or `name:latest` has the range `*`."""
    name, _, wanted = reference.partition(":")
    wanted = wanted.strip()
    return name.strip(), "*" if wanted in ("", "latest") else wanted


def check_references(references: list[str]) -> None:
    """The limits of a job's `assets` (DESIGN.md rule 8)."""
    if len(references) > MAX_REFERENCES:
        raise Invalid(f"assets: at most {MAX_REFERENCES} assets, got {len(references)}")
    for reference in references:
        if len(reference) > MAX_REFERENCE_LENGTH:
            raise Invalid(f"assets: each must be at most {MAX_REFERENCE_LENGTH} characters, got {len(reference)}")


def resolve(references: list[str]) -> list[Asset]:
    """The asset each reference names, in the order given (an asset named twice is listed once)."""
    check_references(references)
    found: dict[str, Asset] = {}
    for reference in references:
        asset = resolve_one(reference)
        found.setdefault(asset.id, asset)
    return list(found.values())


def resolve_one(reference: str) -> Asset:
    if ASSET_ID.match(reference):
        asset = Asset.objects.filter(id=reference).first()
        if asset is None:
            raise not_found(reference)
        return asset
    name, wanted = split_reference(reference)
    try:
        versions = Range(wanted)
    except ValueError as error:
        raise Invalid(f'Failure to get assets, caused by {error} in "{reference}"') from None
    in_range = [
        (version, asset)
        for asset in Asset.objects.filter(name=name)
        if (version := clean(asset.version)) is not None and version in versions
    ]
    if not in_range:
        raise not_found(reference)
    runnable = [(version, asset) for version, asset in in_range if compatible(asset)]
    if not runnable:
        raise Invalid(
            f'Failure to get assets, caused by No asset found for "{reference}", due to a potential '
            f"python_version|platform|arch mismatch (this host: python {sys.version_info[0]}.{sys.version_info[1]}, "
            f"platform {sys.platform}, arch {host_arch()})"
        )
    # The highest version; among builds of one version, the most specific (pinned fields first).
    return max(runnable, key=lambda pair: (pair[0], bool(pair[1].python_version), bool(pair[1].platform)))[1]


def not_found(reference: str) -> Invalid:
    return Invalid(f'Failure to get assets, caused by No assets found for "{reference}"')


def matches(asset: Asset, reference: str) -> bool:
    """Whether `reference` (an id, a name or `name:range`, as after `op@`) names `asset`."""
    if ASSET_ID.match(reference):
        return asset.id == reference
    name, wanted = split_reference(reference)
    try:
        versions = Range(wanted)
    except ValueError:
        return False
    version = clean(asset.version)
    return asset.name == name and version is not None and version in versions
