"""Unpacking and importing a bundle on a worker node (assets.loading), from the zip's bytes."""

import base64
import hashlib
import io
import zipfile

import pytest

from assets.loading import BundleError, import_operations, unpack

PROCESSOR = "from jobs.ops.api import MapProcessor\n\nclass Processor(MapProcessor):\n    pass\n"


def zipped(files: dict[str, str], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in files.items():
            bundle.writestr(name, text)
        for name in links:
            entry = zipfile.ZipInfo(name)
            entry.external_attr = 0o120777 << 16  # a symbolic link's mode
            bundle.writestr(entry, "/etc/passwd")
    return buffer.getvalue()


def id_of(data: bytes) -> str:
    return hashlib.sha1(base64.b64encode(data), usedforsecurity=False).hexdigest()


def in_chunks(data: bytes, size: int = 7):
    return (data[start : start + size] for start in range(0, len(data), size))


BUNDLE = {"asset.json": "{}", "op/operation.json": '{"kind": "processor"}', "op/__init__.py": PROCESSOR}


def test_a_bundle_unpacks_under_its_id(tmp_path):
    data = zipped(BUNDLE)
    folder = unpack(id_of(data), in_chunks(data), tmp_path)
    assert folder == tmp_path / id_of(data)
    assert (folder / "op" / "__init__.py").read_text() == PROCESSOR


def test_bytes_that_do_not_match_the_id_are_refused_and_leave_nothing(tmp_path):
    data = zipped(BUNDLE)
    with pytest.raises(BundleError, match="do not match its id"):
        unpack("0" * 40, in_chunks(data), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py", "op/../../evil.py"])
def test_an_entry_outside_the_bundle_is_refused_and_leaves_nothing(tmp_path, name):
    data = zipped({**BUNDLE, name: "x"})
    with pytest.raises(BundleError, match="unsafe path"):
        unpack(id_of(data), in_chunks(data), tmp_path / "assets")
    assert list((tmp_path / "assets").iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_a_symbolic_link_is_refused(tmp_path):
    data = zipped(BUNDLE, links=("op/link",))
    with pytest.raises(BundleError, match="symbolic link"):
        unpack(id_of(data), in_chunks(data), tmp_path)


def test_an_unpacked_bundle_is_kept_when_another_process_got_there_first(tmp_path):
    data = zipped(BUNDLE)
    unpack(id_of(data), in_chunks(data), tmp_path)
    assert unpack(id_of(data), in_chunks(data), tmp_path) == tmp_path / id_of(data)
    assert [path.name for path in tmp_path.iterdir()] == [id_of(data)]


def test_operations_import_under_a_module_of_their_asset(tmp_path):
    data = zipped(BUNDLE)
    folder = unpack(id_of(data), in_chunks(data), tmp_path)
    operations = import_operations(id_of(data), folder)
    assert operations["op"].kind == "processor"
    assert operations["op"].module.__name__ == f"jobsite_asset_{id_of(data)}.op"


def test_two_versions_of_an_operation_import_side_by_side(tmp_path):
    first, second = zipped(BUNDLE), zipped({**BUNDLE, "op/__init__.py": PROCESSOR + "VERSION = 2\n"})
    one = import_operations(id_of(first), unpack(id_of(first), in_chunks(first), tmp_path))["op"].module
    two = import_operations(id_of(second), unpack(id_of(second), in_chunks(second), tmp_path))["op"].module
    assert not hasattr(one, "VERSION") and two.VERSION == 2
