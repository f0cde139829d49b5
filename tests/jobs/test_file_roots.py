"""File operations read and write only inside the file roots (JOBSITE_FILE_ROOTS): refused at validation,
checked again on the worker once a file is open, and their errors never quote what a file holds."""

import dataclasses
import json
import os

import pytest

from jobs.ops.api import OperationContext, Pipeline, build_slicers
from jobs.ops.files import OutsideFileRoots
from jobs.validation import validate_job
from jobsite.conf import from_environment
from jobsite.errors import Invalid

CONTEXT = OperationContext(ex_id="ex-1", worker_id="worker-1")
SECRET = "s3cret-content-of-the-file"


@pytest.fixture
def root(tmp_path, settings):
    """The one file root, `<tmp_path>/root`; `tmp_path/outside` is next to it, outside."""
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.json").write_text(json.dumps({"secret": SECRET}) + "\n")
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, file_roots=str(tmp_path / "root"))
    return tmp_path / "root"


def reader_job(path, **options):
    return {"name": "files", "operations": [{"_op": "file_reader", "path": str(path), **options}, {"_op": "noop"}]}


def exporter_job(path):
    reader = {"_op": "test-reader", "passthrough_slice": True}
    return {"name": "files", "operations": [reader, {"_op": "file_exporter", "path": str(path)}]}


def rejection(spec) -> str:
    with pytest.raises(Invalid) as raised:
        validate_job(spec)
    return raised.value.message


def records_of(config) -> list:
    fetcher = Pipeline.build(config, CONTEXT).fetcher
    [slicer] = build_slicers(config, CONTEXT)
    records = []
    while (request := slicer.slice()) is not None:
        records.extend(fetcher.fetch(request))
    return records


# validation


def test_a_reader_path_outside_the_roots_is_refused_naming_the_roots(root):
    assert rejection(reader_job("/etc/shadow")) == (
        "Validation failed for operation config: file_reader - "
        f"path: /etc/shadow is outside the file roots ({root}; JOBSITE_FILE_ROOTS sets them)"
    )


def test_dot_dot_cannot_climb_out_of_a_root(root):
    assert "is outside the file roots" in rejection(reader_job(f"{root}/../outside/secret.json"))
    assert "is outside the file roots" in rejection(reader_job(f"{root}/*/../../outside/*.json"))


def test_a_symlink_out_of_a_root_is_refused(root, tmp_path):
    (root / "link.json").symlink_to(tmp_path / "outside" / "secret.json")
    (root / "linked-folder").symlink_to(tmp_path / "outside")
    assert "is outside the file roots" in rejection(reader_job(root / "link.json"))
    assert "is outside the file roots" in rejection(reader_job(root / "linked-folder" / "*.json"))


def test_a_glob_whose_folders_are_outside_is_refused(root):
    assert "is outside the file roots" in rejection(reader_job("/etc/*"))


def test_paths_and_globs_inside_a_root_are_taken_as_absolute_paths(root):
    assert validate_job(reader_job(root / "in" / "*.json")).config["operations"][0]["path"] == f"{root}/in/*.json"
    assert validate_job(reader_job("in/../in/**/*.json")).config["operations"][0]["path"] == f"{root}/in/**/*.json"


def test_an_exporter_folder_outside_the_roots_is_refused(root, tmp_path):
    assert "is outside the file roots" in rejection(exporter_job(tmp_path / "outside" / "out"))
    assert validate_job(exporter_job(root / "out")).config["operations"][1]["path"] == f"{root}/out"


def test_test_reader_data_files_must_be_inside_the_roots(root, tmp_path):
    spec = {
        "name": "files",
        "operations": [
            {"_op": "test-reader", "fetcher_data_file_path": str(tmp_path / "outside/secret.json")},
            {"_op": "noop"},
        ],
    }
    assert "fetcher_data_file_path: " in rejection(spec)


def test_several_roots_separated_by_colons_or_commas(tmp_path, settings):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, file_roots=f"{tmp_path}/a:{tmp_path}/b,{tmp_path}/c")
    for name in ("a", "b", "c"):
        validate_job(reader_job(tmp_path / name / "x.json"))
    assert f"({tmp_path}/a, {tmp_path}/b, {tmp_path}/c;" in rejection(reader_job(tmp_path / "x.json"))


@pytest.mark.parametrize("raw", ["relative/path", "/ok:relative", ":"])
def test_file_roots_must_be_absolute_paths(raw):
    with pytest.raises(ValueError, match="JOBSITE_FILE_ROOTS must be absolute paths"):
        from_environment({"JOBSITE_FILE_ROOTS": raw})


# on the worker


def test_a_file_swapped_for_a_symlink_after_validation_is_not_read(root, tmp_path):
    (root / "data.json").write_text('{"n": 1}\n')
    config = validate_job(reader_job(root / "data.json")).config
    [slicer] = build_slicers(config, CONTEXT)
    request = slicer.slice()
    (root / "data.json").unlink()
    (root / "data.json").symlink_to(tmp_path / "outside" / "secret.json")

    with pytest.raises(OutsideFileRoots, match="is outside the file roots") as raised:
        Pipeline.build(config, CONTEXT).fetcher.fetch(request)
    assert SECRET not in str(raised.value)


def test_a_symlink_swapped_in_between_the_check_and_the_open_is_not_read(root, tmp_path, monkeypatch):
    (root / "data.json").symlink_to(tmp_path / "outside" / "secret.json")
    request = {"path": str(root / "data.json"), "start": 0, "end": 100}
    fetcher = Pipeline.build(validate_job(reader_job(root / "*.json")).config, CONTEXT).fetcher
    # The path still looked like a file of the root when it was checked; the file opened is checked itself.
    monkeypatch.setattr(os.path, "realpath", lambda path, **options: os.path.abspath(path))

    with pytest.raises(OutsideFileRoots, match="is outside the file roots"):
        fetcher.fetch(request)


def test_a_glob_matching_a_symlink_out_of_the_roots_fails_the_slicer(root, tmp_path):
    (root / "good.json").write_text('{"n": 1}\n')
    config = validate_job(reader_job(root / "*.json")).config
    (root / "bad.json").symlink_to(tmp_path / "outside" / "secret.json")

    with pytest.raises(OutsideFileRoots, match="bad.json"):
        build_slicers(config, CONTEXT)


def test_an_exporter_folder_swapped_for_a_symlink_writes_nothing_outside(root, tmp_path):
    config = validate_job(exporter_job(root / "out")).config
    worker = Pipeline.build(config, CONTEXT)
    (root / "out").symlink_to(tmp_path / "outside")

    with pytest.raises(OutsideFileRoots):
        worker.run([{"n": 1}], "s1")
    assert os.listdir(tmp_path / "outside") == ["secret.json"]


def test_the_exporter_writes_inside_a_root(root):
    worker = Pipeline.build(validate_job(exporter_job(root / "out")).config, CONTEXT)
    worker.run([{"n": 1}], "s1")
    assert (root / "out" / "ex-1.s1.jsonl").read_text() == '{"n": 1}\n'


# error records say what and where, never what the file holds


def test_an_invalid_json_line_is_named_by_line_and_byte_offset_without_its_content(root):
    (root / "bad.json").write_text(f'{{"n": 1}}\n{{"n": 2}}\n{{"password": "{SECRET}"\n')
    with pytest.raises(ValueError) as raised:
        records_of(validate_job(reader_job(root / "bad.json", size=12)).config)
    message = str(raised.value)
    assert message.startswith(f"{root}/bad.json: invalid JSON line 3 (byte offset 18): ")
    assert SECRET not in message and "password" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize("fmt", ["text", "csv", "json"])
def test_a_line_that_is_not_utf8_is_named_without_its_content(root, fmt):
    (root / "bad.txt").write_bytes(b"a,b\n1,2\n" + SECRET.encode() + b"\xff\xfe\n")
    with pytest.raises(ValueError) as raised:
        records_of(validate_job(reader_job(root / "bad.txt", format=fmt)).config)
    message = str(raised.value)
    if fmt == "json":  # the first line is not JSON either
        assert message.startswith(f"{root}/bad.txt: invalid JSON line 1 (byte offset 0): ")
    else:
        assert message == (
            f"{root}/bad.txt: invalid UTF-8 line 3 (byte offset 8): byte {len(SECRET) + 1} of the line cannot be decoded"
        )
    assert SECRET not in message
