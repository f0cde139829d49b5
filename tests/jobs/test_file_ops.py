"""file_reader and file_exporter: every line read exactly once whatever the cut, files written atomically."""

import csv
import json
import os

import pytest

from jobs.ops.api import OperationContext, Pipeline, SliceFailed, build_slicers
from jobs.validation import validate_job
from jobsite.errors import Invalid

CONTEXT = OperationContext(ex_id="ex-1", worker_id="worker-1")
SIZES = [1, 2, 3, 5, 7, 10, 16, 33, 64, 100, 1000, 100_000]

# Every test's files are in its tmp_path, which is made the file root.
pytestmark = pytest.mark.usefixtures("file_roots")


def config(*operations, **fields):
    return validate_job({"name": "files", "operations": list(operations), **fields}).config


def read_all(path, size, slicers=1, start_points=None, **options):
    """Every record file_reader reads from `path` with slices of `size` bytes, in slice order."""
    job = config({"_op": "file_reader", "path": str(path), "size": size, **options}, {"_op": "noop"}, slicers=slicers)
    fetcher = Pipeline.build(job, CONTEXT).fetcher
    records = []
    for slicer in build_slicers(job, CONTEXT, start_points):
        while (request := slicer.slice()) is not None:
            records.extend(fetcher.fetch(request))
    return records


def requests_of(path, size, **options):
    job = config({"_op": "file_reader", "path": str(path), "size": size, **options}, {"_op": "noop"})
    [slicer] = build_slicers(job, CONTEXT)
    requests = []
    while (request := slicer.slice()) is not None:
        requests.append(request)
    return requests


def write_lines(path, lines, end="\n"):
    path.write_text("".join(line + end for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def documents():
    # Lines of very different lengths, unicode included, so cuts land everywhere.
    return [{"n": n, "text": "é" * (n % 7) + "x" * (n * 13 % 40)} for n in range(60)]


@pytest.fixture
def json_file(tmp_path, documents):
    return write_lines(tmp_path / "data.json", [json.dumps(doc, ensure_ascii=False) for doc in documents])


def exporter(path, *after, **options) -> Pipeline:
    """test-reader (records = the request) → file_exporter into `path` → `after`."""
    reader = {"_op": "test-reader", "passthrough_slice": True}
    return Pipeline.build(config(reader, {"_op": "file_exporter", "path": str(path), **options}, *after), CONTEXT)


def visible_files(directory):
    return sorted(os.listdir(directory))


# file_reader: slicing


def test_slices_are_byte_ranges_of_size(tmp_path):
    path = write_lines(tmp_path / "a.txt", ["x" * 9] * 3)  # 30 bytes
    assert requests_of(path, 12) == [
        {"path": str(path), "start": 0, "end": 12},
        {"path": str(path), "start": 12, "end": 24},
        {"path": str(path), "start": 24, "end": 30},
    ]


@pytest.mark.parametrize("size", SIZES)
def test_every_json_line_is_read_exactly_once(json_file, documents, size):
    assert read_all(json_file, size) == documents


@pytest.mark.parametrize("size", SIZES)
def test_every_text_line_is_read_exactly_once(tmp_path, size):
    lines = ["alpha", "", "a much longer line than the others, longer than most slices", "b", "", "γάμμα"]
    assert read_all(write_lines(tmp_path / "t.txt", lines), size, format="text") == [{"data": x} for x in lines]


@pytest.mark.parametrize("size", [1, 4, 9, 100])
def test_a_last_line_without_newline_is_read(tmp_path, size):
    (tmp_path / "t.txt").write_text("one\ntwo\nthree")
    assert read_all(tmp_path / "t.txt", size, format="text") == [{"data": "one"}, {"data": "two"}, {"data": "three"}]


@pytest.mark.parametrize("size", [1, 3, 100])
def test_windows_line_endings_are_stripped(tmp_path, size):
    write_lines(tmp_path / "t.json", ['{"a": 1}', '{"a": 2}'], end="\r\n")
    assert read_all(tmp_path / "t.json", size) == [{"a": 1}, {"a": 2}]


def test_blank_json_lines_are_skipped(tmp_path):
    write_lines(tmp_path / "t.json", ['{"a": 1}', "", "  ", '{"a": 2}'])
    assert read_all(tmp_path / "t.json", 4) == [{"a": 1}, {"a": 2}]


def test_an_invalid_json_line_fails_the_slice_naming_the_file(tmp_path):
    write_lines(tmp_path / "bad.json", ['{"a": 1}', "{nope"])
    with pytest.raises(ValueError, match="bad.json: invalid JSON line"):
        read_all(tmp_path / "bad.json", 1000)


def test_an_empty_file_makes_no_slice(tmp_path):
    (tmp_path / "empty.json").write_text("")
    assert requests_of(tmp_path / "empty.json", 10) == []


# file_reader: csv


@pytest.fixture
def people():
    return [{"name": f"person {n}", "age": str(20 + n), "city": "Zürich" if n % 2 else "Oslo"} for n in range(25)]


def write_csv(path, rows, fields, header=True, delimiter=","):
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields, delimiter=delimiter, lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("size", SIZES)
def test_csv_uses_the_header_row_once(tmp_path, people, size):
    path = write_csv(tmp_path / "people.csv", people, ["name", "age", "city"])
    assert read_all(path, size, format="csv") == people


def test_csv_header_after_a_byte_order_mark(tmp_path, people):
    path = write_csv(tmp_path / "people.csv", people, ["name", "age", "city"])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_all(path, 10, format="csv") == people


@pytest.mark.parametrize("size", [1, 20, 10_000])
def test_csv_with_fields_has_no_header_row(tmp_path, people, size):
    path = write_csv(tmp_path / "people.csv", people, ["name", "age", "city"], header=False)
    assert read_all(path, size, format="csv", fields=["name", "age", "city"]) == people


def test_csv_delimiter(tmp_path, people):
    path = write_csv(tmp_path / "people.csv", people, ["name", "age", "city"], delimiter=";")
    assert read_all(path, 30, format="csv", delimiter=";") == people


def test_csv_each_file_has_its_own_header(tmp_path):
    write_csv(tmp_path / "a.csv", [{"x": "1", "y": "2"}], ["x", "y"])
    write_csv(tmp_path / "b.csv", [{"z": "3"}], ["z"])
    assert read_all(tmp_path / "*.csv", 5, format="csv") == [{"x": "1", "y": "2"}, {"z": "3"}]


def test_csv_short_rows_fill_with_none_and_extra_values_are_dropped(tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n1\n1,2,3\n")
    assert read_all(tmp_path / "r.csv", 100, format="csv") == [{"a": "1", "b": None}, {"a": "1", "b": "2"}]


# file_reader: several files


def test_a_glob_reads_the_matching_files_in_name_order(tmp_path):
    for name in ("b.json", "a.json", "c.log"):
        write_lines(tmp_path / name, [json.dumps({"file": name, "n": n}) for n in range(3)])
    records = read_all(tmp_path / "*.json", 7)
    assert [(r["file"], r["n"]) for r in records] == [(name, n) for name in ("a.json", "b.json") for n in range(3)]


def test_a_recursive_glob(tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    write_lines(tmp_path / "x" / "y" / "deep.json", ['{"deep": true}'])
    write_lines(tmp_path / "top.json", ['{"deep": false}'])
    assert read_all(tmp_path / "**" / "*.json", 100) == [{"deep": False}, {"deep": True}]


def test_a_directory_reads_its_files_but_not_hidden_ones(tmp_path):
    write_lines(tmp_path / "one.json", ['{"n": 1}'])
    write_lines(tmp_path / ".partial.tmp", ['{"n": 2}'])
    assert read_all(tmp_path, 100) == [{"n": 1}]


def test_no_matching_file_is_invalid(tmp_path):
    with pytest.raises(Invalid, match="file_reader: no file matches"):
        read_all(tmp_path / "*.json", 100)


def test_parallel_slicers_share_the_files(tmp_path):
    for n in range(5):
        write_lines(tmp_path / f"{n}.json", [json.dumps({"file": n, "line": line}) for line in range(4)])
    job = config({"_op": "file_reader", "path": str(tmp_path / "*.json"), "size": 10}, {"_op": "noop"}, slicers=2)
    first, second = build_slicers(job, CONTEXT)
    assert [f.rsplit("/", 1)[1] for f in first.files] == ["0.json", "2.json", "4.json"]
    assert [f.rsplit("/", 1)[1] for f in second.files] == ["1.json", "3.json"]
    records = read_all(tmp_path / "*.json", 10, slicers=2)
    assert sorted((r["file"], r["line"]) for r in records) == [(f, line) for f in range(5) for line in range(4)]


# file_reader: recovery


def test_recovery_continues_after_the_last_completed_range(tmp_path, json_file, documents):
    requests = requests_of(json_file, 50)
    job = config({"_op": "file_reader", "path": str(json_file), "size": 50}, {"_op": "noop"})
    [slicer] = build_slicers(job, CONTEXT, start_points={0: requests[3]})
    assert slicer.slice() == requests[4]
    fetcher = Pipeline.build(job, CONTEXT).fetcher
    done = [record for request in requests[:4] for record in fetcher.fetch(request)]
    rest = read_all(json_file, 50, start_points={0: requests[3]})
    assert done + rest == documents


def test_recovery_after_a_files_last_range_moves_to_the_next_file(tmp_path):
    write_lines(tmp_path / "a.json", ['{"f": "a"}'])
    write_lines(tmp_path / "b.json", ['{"f": "b"}'])
    last_of_a = {"path": str(tmp_path / "a.json"), "start": 0, "end": os.path.getsize(tmp_path / "a.json")}
    assert read_all(tmp_path / "*.json", 100, start_points={0: last_of_a}) == [{"f": "b"}]


def test_checkpoint_restores_into_a_new_slicer(tmp_path, json_file):
    job = config({"_op": "file_reader", "path": str(json_file), "size": 40}, {"_op": "noop"})
    [first] = build_slicers(job, CONTEXT)
    first.slice(), first.slice()
    [second] = build_slicers(job, CONTEXT)
    second.restore(json.loads(json.dumps(first.checkpoint())))
    assert second.slice() == first.slice()


# file_exporter


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_exporter_writes_one_json_lines_file_per_slice(tmp_path):
    out = tmp_path / "out"
    worker = exporter(out)
    assert worker.run([{"a": 1}, {"a": "é"}], "slice-1").count == 2
    worker.run([{"a": 3}], "slice-2")
    assert visible_files(out) == ["ex-1.slice-1.jsonl", "ex-1.slice-2.jsonl"]
    assert read_jsonl(out / "ex-1.slice-1.jsonl") == [{"a": 1}, {"a": "é"}]


def test_exporter_passes_records_to_the_next_operation(tmp_path):
    result = exporter(tmp_path, {"_op": "collect", "size": 1}).run([{"a": 1}, {"a": 2}], "s1")
    assert [entry["count"] for entry in result.analytics] == [2, 2, 2]


def test_exporter_writes_nothing_for_an_empty_slice(tmp_path):
    exporter(tmp_path / "out").run([], "s1")
    assert not (tmp_path / "out").exists() or visible_files(tmp_path / "out") == []


def test_exporter_csv_with_fields(tmp_path):
    exporter(tmp_path, format="csv", fields=["b", "a"]).run([{"a": 1, "b": 2, "c": 3}, {"a": 4}], "s1")
    assert (tmp_path / "ex-1.s1.csv").read_text().splitlines() == ["b,a", "2,1", ",4"]


def test_exporter_csv_without_fields_writes_every_key(tmp_path):
    exporter(tmp_path, format="csv").run([{"a": 1}, {"b": {"x": [1]}}], "s1")
    assert (tmp_path / "ex-1.s1.csv").read_text().splitlines() == ["a,b", "1,", ',"{""x"": [1]}"']


def test_exported_files_read_back_with_file_reader(tmp_path):
    records = [{"name": f"n{n}", "v": str(n)} for n in range(30)]
    worker = exporter(tmp_path, format="csv")
    worker.run(records[:10], "s1")
    worker.run(records[10:], "s2")
    assert read_all(tmp_path, 17, format="csv") == records


def test_a_failed_write_leaves_no_file(tmp_path):
    worker = exporter(tmp_path)
    records = [{"n": n} for n in range(1000)] + [{"n": object()}]
    with pytest.raises(TypeError):
        worker.run(records, "s1")
    assert os.listdir(tmp_path) == []


def test_a_failed_rewrite_keeps_the_previous_file_whole(tmp_path):
    worker = exporter(tmp_path)
    worker.run([{"n": 1}], "s1")
    with pytest.raises(TypeError):
        worker.run([{"n": 2}, {"n": object()}], "s1")
    assert os.listdir(tmp_path) == ["ex-1.s1.jsonl"]
    assert read_jsonl(tmp_path / "ex-1.s1.jsonl") == [{"n": 1}]


def test_a_retried_slice_leaves_one_complete_file(tmp_path, monkeypatch):
    attempts = []

    def fail_first_attempt(self, records):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("later operation failed")
        return records

    from jobs.ops.processors import Noop

    monkeypatch.setattr(Noop, "on_batch", fail_first_attempt)
    worker = exporter(tmp_path, {"_op": "noop"})
    result = worker.run_with_retries([{"n": 1}, {"n": 2}], "s1", max_retries=2, sleep=lambda seconds: None)
    assert result.retries == 1
    assert os.listdir(tmp_path) == ["ex-1.s1.jsonl"]
    assert read_jsonl(tmp_path / "ex-1.s1.jsonl") == [{"n": 1}, {"n": 2}]


def test_a_slice_failing_for_good_in_the_exporter_leaves_nothing(tmp_path):
    worker = exporter(tmp_path)
    with pytest.raises(SliceFailed):
        worker.run_with_retries([{"n": object()}], "s1", max_retries=1, sleep=lambda seconds: None)
    assert os.listdir(tmp_path) == []


def test_file_reader_to_file_exporter_copies_every_record(tmp_path, json_file, documents):
    job = config(
        {"_op": "file_reader", "path": str(json_file), "size": 64},
        {"_op": "file_exporter", "path": str(tmp_path / "copy")},
    )
    worker = Pipeline.build(job, CONTEXT)
    [slicer] = build_slicers(job, CONTEXT)
    order = 0
    while (request := slicer.slice()) is not None:
        order += 1
        worker.run(request, f"{order:04d}")
    assert read_all(tmp_path / "copy", 30) == documents
