"""Loading an asset's operations on a worker node: the only place that imports a bundle's code.

A bundle is unpacked once per node into `<JOBSITE_DATA_DIR>/assets/<id>/`: its bytes are streamed from
the database (`assets.storage.chunks`), checked against the id (the SHA-1 of their base64, as Teraslice
names assets), and extracted into a temporary folder that is renamed into place, so a folder under its
id is always complete and a node that crashed mid-way leaves only a temporary folder. Each operation folder's
`__init__.py` is imported as `jobsite_asset_<id>.<op>`, so two bundles (or two versions of one) never
share a module; the bundle's `vendor/` folder is put at the end of `sys.path` (after Jobsite's own
packages, which a bundle cannot replace). What is loaded is cached per process.

This module knows nothing of the engine: it returns each operation's module and kind, and the engine
takes the classes it needs from it (`Processor`, or `Slicer` and `Fetcher`).
"""

import base64
import hashlib
import importlib
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import types
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from assets import storage

OPERATION_FILE = "operation.json"
VENDOR = "vendor"


class BundleError(Exception):
    """A stored bundle that cannot be used on this node (corrupt, tampered with, or unsafe)."""


@dataclass(frozen=True)
class BundleOperation:
    name: str
    kind: str  # "reader" | "processor", as its operation.json says
    module: types.ModuleType


_loaded: dict[str, dict[str, BundleOperation]] = {}
_lock = threading.Lock()


def operations_of(asset_id: str) -> dict[str, BundleOperation]:
    """The operations of the stored asset `asset_id`, by name, unpacked and imported on first use."""
    with _lock:
        if asset_id not in _loaded:
            folder = storage.cache_dir(asset_id)
            if not folder.is_dir():
                unpack(asset_id, storage.chunks(asset_id), folder.parent)
            _loaded[asset_id] = import_operations(asset_id, folder)
        return _loaded[asset_id]


def unpack(asset_id: str, chunks: Iterable[bytes], into: Path) -> Path:
    """Write the zip of `chunks` to `into/<asset_id>/`, extracted, once its bytes proved to be `asset_id`.

    Another process unpacking the same asset at the same time is harmless: the first rename wins.
    """
    into.mkdir(parents=True, exist_ok=True)
    final = into / asset_id
    work = Path(tempfile.mkdtemp(prefix=f".{asset_id}-", dir=into))
    try:
        archive = work / "bundle.zip"
        with archive.open("wb") as out:
            digest = _Base64Sha1()
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != asset_id:
            raise BundleError(f"the stored bytes of asset {asset_id} do not match its id")
        extracted = work / "bundle"
        extract(archive, extracted)
        try:
            os.rename(extracted, final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def extract(archive: Path, into: Path) -> None:
    """Extract `archive` into `into`, refusing entries that would land outside it or are links."""
    into.mkdir()
    try:
        with zipfile.ZipFile(archive) as bundle:
            for entry in bundle.infolist():
                path = PurePosixPath(entry.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
                    raise BundleError(f"unsafe path in bundle: {entry.filename}")
                if stat.S_ISLNK(entry.external_attr >> 16):
                    raise BundleError(f"symbolic link in bundle: {entry.filename}")
                bundle.extract(entry, into)
    except zipfile.BadZipFile as error:
        raise BundleError(f"not a zip: {error}") from None


def import_operations(asset_id: str, folder: Path) -> dict[str, BundleOperation]:
    """Import every operation folder (one with an operation.json) of the unpacked bundle in `folder`."""
    package = f"jobsite_asset_{asset_id}"
    if package not in sys.modules:
        # A package for the bundle root, so each operation imports as its submodule (relative imports work).
        root = types.ModuleType(package)
        root.__path__ = [str(folder)]
        sys.modules[package] = root
    vendor = folder / VENDOR
    if vendor.is_dir() and str(vendor) not in sys.path:
        sys.path.append(str(vendor))
    operations = {}
    for entry in sorted(folder.iterdir()):
        declared = entry / OPERATION_FILE
        if not entry.is_dir() or not declared.is_file() or not (entry / "__init__.py").is_file():
            continue
        kind = json.loads(declared.read_text()).get("kind")
        module = importlib.import_module(f"{package}.{entry.name}")
        operations[entry.name] = BundleOperation(entry.name, kind, module)
    return operations


class _Base64Sha1:
    """The SHA-1 of the base64 text of a byte stream, fed in chunks of any size (base64 works on 3-byte
    groups, so a chunk's last 0-2 bytes wait for the next)."""

    def __init__(self):
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._rest = b""

    def update(self, data: bytes) -> None:
        data = self._rest + data
        cut = len(data) - len(data) % 3
        self._sha1.update(base64.b64encode(data[:cut]))
        self._rest = data[cut:]

    def hexdigest(self) -> str:
        self._sha1.update(base64.b64encode(self._rest))
        self._rest = b""
        return self._sha1.hexdigest()
