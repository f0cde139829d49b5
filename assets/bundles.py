"""Checking an uploaded bundle (a zip in a file) before anything of it is stored.

Everything is read from the file, entry by entry, in blocks: a bundle is never held in memory whole. The
zip's central directory is trusted for nothing: declared sizes are checked against the limits, then every
entry is decompressed and its actual bytes counted (and its CRC checked by zipfile), so a bundle whose
headers lie is refused too.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

import jobsite
from assets import semver
from jobsite.conf import conf
from jobsite.errors import Invalid, Unprocessable

ZIP_MAGIC = b"PK\x03\x04"
NOT_A_ZIP = "Failed to save asset. File type not recognized as zip."
NO_ASSET_JSON = "asset.json was not found in root directory of asset bundle"
BAD_ASSET_JSON = "Failure parsing asset.json, please ensure that's it formatted correctly"

READ_BLOCK = 64 * 1024
# asset.json and operation.json are a few lines; a larger one is not metadata.
MAX_JSON_BYTES = 1024 * 1024
# The compression ratio of an entry smaller than this is not checked: small text compresses very well and
# cannot make a bomb (the total ratio and the unpacked limit still count it).
RATIO_CHECKED_FROM = 1024 * 1024

OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
# Names jobs refer to as `name`, `name:range` and `op@name`: none of those separators, nor a path's.
ASSET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
PYTHON_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")
PLATFORM = re.compile(r"^[a-z][a-z0-9]{0,31}$")
# The Node.js names Teraslice uses (jobsite/api/views.py's /info says the host's), and the usual aliases.
ARCHES = {"x64": "x64", "x86_64": "x64", "amd64": "x64", "arm64": "arm64", "aarch64": "arm64", "ia32": "ia32"}
# Folders at the root that are not operations: vendored dependencies, and what zip tools add.
NOT_OPERATIONS = ("vendor", "__MACOSX")

KINDS = ("reader", "processor")
OPTION_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
OPTION_KEYS = {"type", "default", "minimum", "maximum", "max_length", "enum", "required", "description"}


@dataclass
class Bundle:
    """What a checked bundle says of itself: the Asset fields it fills."""

    name: str
    version: str
    description: str = ""
    python_version: str = ""
    platform: str = ""
    arch: str = ""
    metadata: dict = field(default_factory=dict)
    operations: dict = field(default_factory=dict)


def read_bundle(file: BinaryIO, size: int) -> Bundle:
    """Check the zip in `file` (`size` bytes) and return what it holds; Invalid (400) or Unprocessable (422),
    with a message naming the problem, for anything a bundle may not be."""
    file.seek(0)
    if file.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
        raise Invalid(NOT_A_ZIP)
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
            _check_entries(entries, size)
            texts = _read_all(archive, entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        # NotImplementedError: a compression method zipfile has no decoder for.
        raise Invalid(f"Failed to save asset. The zip could not be read: {error}") from None
    if "asset.json" not in texts:
        raise Unprocessable(NO_ASSET_JSON)
    metadata = _json_or_none(texts["asset.json"])
    if not isinstance(metadata, dict):
        raise Unprocessable(BAD_ASSET_JSON)
    bundle = _from_metadata(metadata)
    bundle.operations = _operations(entries, texts)
    return bundle


# --- the archive ----------------------------------------------------------------------------------------


def _check_entries(entries: list[zipfile.ZipInfo], size: int) -> None:
    if len(entries) > conf.asset_max_entries:
        raise Invalid(
            f"the asset bundle has {len(entries)} entries, more than {conf.asset_max_entries} "
            "(JOBSITE_ASSET_MAX_ENTRIES)"
        )
    declared = sum(entry.file_size for entry in entries)
    _check_unpacked(declared)
    for entry in entries:
        _check_path(entry.filename)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise Invalid(f'the asset bundle entry "{entry.filename}" is a symbolic link, which a bundle may not hold')
        if entry.flag_bits & 0x1:
            raise Invalid(f'the asset bundle entry "{entry.filename}" is encrypted')
        if entry.file_size >= RATIO_CHECKED_FROM:
            _check_ratio(entry.file_size, entry.compress_size, f'the asset bundle entry "{entry.filename}"')
    _check_ratio(declared, size, "the asset bundle")


def _check_path(name: str) -> None:
    """No entry may land outside the folder it is unpacked into (zip slip)."""
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
        raise Invalid(f'the asset bundle entry "{name}" has an unsafe path (absolute, or with ..)')


def _check_unpacked(total: int) -> None:
    if total > conf.asset_max_unpacked_bytes:
        raise Invalid(
            f"the asset bundle unpacks to more than {conf.asset_max_unpacked_bytes} bytes "
            "(JOBSITE_ASSET_MAX_UNPACKED_BYTES)"
        )


def _check_ratio(unpacked: int, packed: int, what: str) -> None:
    limit = conf.asset_max_compression_ratio
    if unpacked > limit * max(packed, 1):
        raise Invalid(
            f"{what} unpacks to {unpacked} bytes from {packed}, a compression ratio over {limit:g} "
            "(JOBSITE_ASSET_MAX_COMPRESSION_RATIO)"
        )


def _is_metadata(name: str) -> bool:
    parts = name.split("/")
    return name == "asset.json" or (len(parts) == 2 and parts[1] == "operation.json")


def _read_all(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> dict[str, bytes]:
    """Decompress every entry, counting what comes out; keep the metadata files' bytes."""
    texts: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        if entry.is_dir():
            continue
        keep = _is_metadata(entry.filename)
        kept = bytearray()
        written = 0
        with archive.open(entry) as member:
            while block := member.read(READ_BLOCK):
                written += len(block)
                total += len(block)
                _check_unpacked(total)
                if written > entry.file_size:  # zipfile stops at the declared size; this says so if not
                    raise Invalid(f'the asset bundle entry "{entry.filename}" is larger than its header says')
                if keep:
                    if written > MAX_JSON_BYTES:
                        raise Invalid(f'"{entry.filename}" is larger than {MAX_JSON_BYTES} bytes')
                    kept += block
        if keep:
            texts[entry.filename] = bytes(kept)
    return texts


def _json_or_none(data: bytes):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None


# --- asset.json -----------------------------------------------------------------------------------------


def _from_metadata(metadata: dict) -> Bundle:
    name = metadata.get("name")
    if not name:
        raise Invalid("Missing name")
    if not isinstance(name, str) or not ASSET_NAME.match(name):
        raise Invalid(
            f'Invalid name "{name}": letters, digits, _ . and - only (no / : @ or spaces), at most 255 characters'
        )
    raw_version = metadata.get("version")
    if raw_version in (None, ""):
        raise Invalid("Missing version")
    version = semver.clean(raw_version)
    if version is None:
        raise Invalid(f'Invalid version "{raw_version}"')
    _check_minimum_version(metadata.get("minimum_jobsite_version"))
    description = metadata.get("description") or ""
    if not isinstance(description, str):
        raise Invalid("description must be a string")
    return Bundle(
        name=name,
        version=str(version),
        description=description,
        python_version=_python_version(metadata.get("python_version")),
        platform=_platform(metadata.get("platform")),
        arch=_arch(metadata.get("arch")),
        metadata=metadata,
    )


def _check_minimum_version(raw) -> None:
    if not raw:
        return
    minimum = semver.clean(raw)
    if minimum is None:
        raise Invalid(f'Invalid minimum_jobsite_version "{raw}"')
    if minimum > semver.parse(jobsite.__version__):
        raise Invalid(f"Asset requires jobsite version {minimum} or greater.")


def _python_version(raw) -> str:
    """major.minor (`3.11.4` is 3.11); empty: any Python."""
    if not raw:
        return ""
    match = PYTHON_VERSION.match(str(raw)) if isinstance(raw, str) else None
    if match is None:
        raise Invalid(f'Invalid python_version "{raw}": expected major.minor, as "3.11"')
    return f"{int(match[1])}.{int(match[2])}"


def _platform(raw) -> str:
    if not raw:
        return ""
    if not isinstance(raw, str) or not PLATFORM.match(raw):
        raise Invalid(f'Invalid platform "{raw}": expected a sys.platform value, as "linux"')
    return raw


def _arch(raw) -> str:
    if not raw:
        return ""
    if not isinstance(raw, str) or raw.lower() not in ARCHES:
        raise Invalid(f'Invalid arch "{raw}": expected x64 or arm64')
    return ARCHES[raw.lower()]


# --- operations -----------------------------------------------------------------------------------------


def _operations(entries: list[zipfile.ZipInfo], texts: dict[str, bytes]) -> dict:
    """{op: {"kind", "options"}} for every root folder holding an operation.json."""
    files = {entry.filename for entry in entries if not entry.is_dir()}
    operations = {}
    for path in sorted(name for name in texts if name != "asset.json"):
        folder = path.split("/")[0]
        if folder in NOT_OPERATIONS:
            continue
        if not OPERATION_NAME.match(folder):
            raise Invalid(
                f'operation "{folder}": an operation folder is named [a-z][a-z0-9_-]* (lower case letters, '
                "digits, _ and -)"
            )
        if f"{folder}/__init__.py" not in files:
            raise Invalid(f'operation "{folder}": {folder}/__init__.py was not found')
        operations[folder] = _operation(folder, texts[path])
    return operations


def _operation(name: str, data: bytes) -> dict:
    spec = _json_or_none(data)
    if not isinstance(spec, dict):
        raise Invalid(f'operation "{name}": operation.json is not a JSON object')
    unknown = set(spec) - {"kind", "options", "description"}
    if unknown:
        raise Invalid(f'operation "{name}": operation.json has unknown keys: {", ".join(sorted(unknown))}')
    kind = spec.get("kind")
    if kind not in KINDS:
        raise Invalid(f'operation "{name}": kind must be reader or processor, not {json.dumps(kind)}')
    options = spec.get("options", {})
    if not isinstance(options, dict):
        raise Invalid(f'operation "{name}": options must be an object of option schemas')
    for option, schema in options.items():
        _check_option(name, option, schema)
    return {"kind": kind, "options": options}


def _check_option(operation: str, option: str, schema) -> None:
    where = f'operation "{operation}", option "{option}"'
    if not isinstance(schema, dict):
        raise Invalid(f"{where}: the schema must be an object")
    unknown = set(schema) - OPTION_KEYS
    if unknown:
        raise Invalid(f"{where}: unknown schema keys: {', '.join(sorted(unknown))}")
    kind = schema.get("type")
    if kind not in OPTION_TYPES:
        raise Invalid(f"{where}: type must be one of {', '.join(OPTION_TYPES)}, not {json.dumps(kind)}")
    for bound in ("minimum", "maximum"):
        if bound in schema and not _is_number(schema[bound]):
            raise Invalid(f"{where}: {bound} must be a number")
    if "max_length" in schema and not (_is_integer(schema["max_length"]) and schema["max_length"] >= 0):
        raise Invalid(f"{where}: max_length must be a non-negative integer")
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        raise Invalid(f"{where}: enum must be a non-empty list")
    if "required" in schema and not isinstance(schema["required"], bool):
        raise Invalid(f"{where}: required must be true or false")
    if "description" in schema and not isinstance(schema["description"], str):
        raise Invalid(f"{where}: description must be a string")
    if "default" in schema and schema["default"] is not None and not _has_type(schema["default"], kind):
        raise Invalid(f"{where}: the default {json.dumps(schema['default'])} is not of type {kind}")


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _has_type(value, kind: str) -> bool:
    if kind == "integer":
        return _is_integer(value)
    if kind == "number":
        return _is_number(value)
    return isinstance(value, OPTION_TYPES[kind])
