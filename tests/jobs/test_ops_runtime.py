"""The Operation API and the built-in operations at run time (spec/teraslice.md §4.4, §4.7, §7)."""

import ipaddress
import json
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jobs.ops import registry
from jobs.ops.api import (
    BatchProcessor,
    EachProcessor,
    FilterProcessor,
    MapProcessor,
    OperationContext,
    Pipeline,
    SliceFailed,
    build_slicers,
    runtime_of,
)
from jobs.ops.generator import DateRenderer
from jobs.ops.options import NoopOptions
from jobs.ops.readers import TEST_READER_REQUESTS
from jobs.ops.registry import Kind
from jobs.validation import validate_job
from jobsite.errors import Invalid

CONTEXT = OperationContext(ex_id="ex-1", worker_id="worker-1")
RECORD_KEYS = {"ip", "userAgent", "url", "uuid", "created", "ipv6", "location", "bytes"}


def config(*operations, **fields):
    return validate_job({"name": "ops", "operations": list(operations), **fields}).config


def pipeline(*operations, **fields) -> Pipeline:
    return Pipeline.build(config(*operations, **fields), CONTEXT)


def slicers(*operations, start_points=None, **fields):
    return build_slicers(config(*operations, **fields), CONTEXT, start_points)


def the_slicer(*operations, **fields):
    [slicer] = slicers(*operations, **fields)
    return slicer


def drain(slicer, limit=10_000) -> list:
    requests = []
    while (request := slicer.slice()) is not None:
        requests.append(request)
        assert len(requests) < limit, "the slicer never finished"
    return requests


def take(slicer, n) -> list:
    return [slicer.slice() for _ in range(n)]


def generated(count=50, **options):
    """`count` data_generator records made with `options`."""
    return pipeline({"_op": "data_generator", **options}, {"_op": "noop"}).fetcher.fetch({"count": count})


def passthrough(*processors) -> Pipeline:
    """A pipeline whose records are its slice's request (test-reader's passthrough_slice), then `processors`."""
    return pipeline({"_op": "test-reader", "passthrough_slice": True}, *processors)


@pytest.fixture
def custom_processor(monkeypatch):
    """Register a processor class under a name for the length of one test."""

    def add(name, runtime):
        operation = registry.Operation(name, Kind.PROCESSOR, NoopOptions, runtime)
        monkeypatch.setitem(registry._operations, name, operation)

    return add


# The registry


def test_every_builtin_operation_has_a_runtime():
    for name in ("data_generator", "test-reader", "file_reader"):
        assert runtime_of(name, Kind.READER).slicer and runtime_of(name, Kind.READER).fetcher
    for name in ("noop", "delay", "collect", "stdout", "file_exporter"):
        assert runtime_of(name, Kind.PROCESSOR)


def test_an_operation_without_runtime_is_invalid(monkeypatch):
    monkeypatch.setitem(registry._operations, "bare", registry.Operation("bare", Kind.PROCESSOR, NoopOptions))
    with pytest.raises(Invalid, match="operation bare has no implementation"):
        runtime_of("bare", Kind.PROCESSOR)


def test_a_runtime_is_attached_once():
    with pytest.raises(ValueError, match="already implemented"):
        registry.implement("noop", object)


# data_generator: slicer


def test_data_generator_once_slices_cover_size_then_stop():
    slicer = the_slicer({"_op": "data_generator", "size": 12_000}, {"_op": "noop"})
    assert drain(slicer) == [
        {"count": 5000, "processed": 0},
        {"count": 5000, "processed": 5000},
        {"count": 2000, "processed": 10_000},
    ]
    assert slicer.slice() is None


def test_data_generator_slice_size_is_the_last_operations_size():
    slicer = the_slicer({"_op": "data_generator", "size": 1000}, {"_op": "collect", "size": 300})
    assert [request["count"] for request in drain(slicer)] == [300, 300, 300, 100]


def test_data_generator_persistent_slices_never_end():
    slicer = the_slicer({"_op": "data_generator", "size": 10}, {"_op": "noop"}, lifecycle="persistent")
    requests = take(slicer, 100)
    assert requests[0] == {"count": 5000, "processed": 0}
    assert requests[99] == {"count": 5000, "processed": 99 * 5000}


def test_data_generator_recovers_after_the_last_completed_request():
    [slicer] = slicers(
        {"_op": "data_generator", "size": 12_000}, {"_op": "noop"}, start_points={0: {"count": 5000, "processed": 5000}}
    )
    assert drain(slicer) == [{"count": 2000, "processed": 10_000}]


def test_data_generator_recovering_without_completed_slices_starts_over():
    [slicer] = slicers({"_op": "data_generator", "size": 7000}, {"_op": "noop"}, start_points={})
    assert drain(slicer) == [{"count": 5000, "processed": 0}, {"count": 2000, "processed": 5000}]


def test_data_generator_recovered_after_its_last_slice_is_done():
    [slicer] = slicers(
        {"_op": "data_generator", "size": 7000}, {"_op": "noop"}, start_points={0: {"count": 2000, "processed": 5000}}
    )
    assert slicer.slice() is None


def test_data_generator_checkpoint_restores_into_a_new_slicer():
    first = the_slicer({"_op": "data_generator", "size": 12_000}, {"_op": "noop"})
    first.slice()
    second = the_slicer({"_op": "data_generator", "size": 12_000}, {"_op": "noop"})
    second.restore(json.loads(json.dumps(first.checkpoint())))
    assert second.slice() == first.slice() == {"count": 5000, "processed": 5000}


def test_data_generator_queue_holds_three_slices_per_worker():
    assert the_slicer({"_op": "data_generator"}, {"_op": "noop"}).max_queue_length(4) == 12


def test_data_generator_is_one_slicer_whatever_the_slicers_count():
    requests = [slicer.slice() for slicer in slicers({"_op": "data_generator", "size": 10}, {"_op": "noop"}, slicers=3)]
    assert requests == [{"count": 10, "processed": 0}]


# data_generator: fetcher


def test_data_generator_fetches_count_records():
    assert len(generated(123)) == 123
    assert generated(0) == []


@pytest.mark.parametrize("count", [200, 1, 4], ids=["columns", "one", "few"])
def test_data_generator_record_shape(count):
    """Records are built column by column, or one by one for a few (FakeRecords.one): the same records."""
    records = [record for _ in range(200 // count) for record in generated(count)]
    assert len({record["uuid"] for record in records}) == 200
    keys = list(generated(200)[0])
    for record in records:
        assert list(record) == keys  # in the same order
        ipaddress.IPv4Address(record["ip"])
        ipaddress.IPv6Address(record["ipv6"])
        assert re.fullmatch(r"[0-9a-f]{4}(:[0-9a-f]{4}){7}", record["ipv6"])
        assert uuid.UUID(record["uuid"]).version == 4 and str(uuid.UUID(record["uuid"])) == record["uuid"]
        assert record["url"].startswith(("http://", "https://"))
        assert record["userAgent"].startswith("Mozilla/5.0 (")
        latitude, longitude = (float(part) for part in record["location"].split(", "))
        assert -90 <= latitude <= 90 and -180 <= longitude <= 180
        assert re.fullmatch(r"-?\d+\.\d{5}, -?\d+\.\d{5}", record["location"])
        assert isinstance(record["bytes"], int) and 7850 <= record["bytes"] <= 5_642_867
        assert datetime.fromisoformat(record["created"]).utcoffset() is not None
    json.dumps(generated(10))


def test_data_generator_records_differ():
    records = generated(1000)
    assert len({record["uuid"] for record in records}) == 1000
    assert len({record["ip"] for record in records}) > 900


def test_data_generator_date_now_is_the_time_of_the_fetch():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    records = generated(10)
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    for record in records:
        assert before <= datetime.fromisoformat(record["created"]) <= after
        assert re.search(r"T\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", record["created"])


def test_data_generator_utc_date_ends_with_z():
    assert all(re.search(r"T\d\d:\d\d:\d\d\.\d{3}Z$", r["created"]) for r in generated(10, format="utcDate"))


def test_data_generator_date_key_renames_the_date_field():
    record = generated(1, date_key="@timestamp")[0]
    assert "@timestamp" in record and "created" not in record


@pytest.mark.parametrize(("fmt", "pattern"), [("utcBetween", r"Z$"), ("isoBetween", r"[+-]\d\d:\d\d$")])
def test_data_generator_between_formats_stay_in_range(fmt, pattern):
    start, end = datetime(2019, 3, 1, tzinfo=UTC), datetime(2019, 3, 4, tzinfo=UTC)
    records = generated(500, format=fmt, start=start.isoformat(), end=end.isoformat())
    dates = [datetime.fromisoformat(record["created"]) for record in records]
    assert all(start <= date < end for date in dates)
    assert all(re.search(pattern, record["created"]) for record in records)
    assert len(set(dates)) > 450


def test_data_generator_between_without_start_begins_at_the_epoch():
    dates = [datetime.fromisoformat(r["created"]) for r in generated(200, format="utcBetween")]
    assert all(datetime(1970, 1, 1, tzinfo=UTC) <= date <= datetime.now(UTC) for date in dates)


def test_date_renderer_matches_datetime():
    render, rng = DateRenderer(), random.Random(3)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for ms in [0, -1, 999, 86_399_999, 86_400_000, *(rng.randrange(-(10**13), 10**13) for _ in range(2000))]:
        expected = (epoch + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert render(ms) == expected


@pytest.mark.parametrize(
    ("set_id", "pattern"),
    [("hexadecimal", r"[0-9a-f]{8}"), ("HEXADECIMAL", r"[0-9A-F]{8}"), ("base64url", r"[a-zA-Z1-9\-_]\w{8}")],
)
def test_data_generator_set_id_adds_an_id(set_id, pattern):
    for record in generated(50, set_id=set_id) + generated(1, set_id=set_id):
        assert re.fullmatch(pattern, record["id"])


def test_data_generator_id_start_key_prefixes_the_id():
    assert all(re.fullmatch(r"ab[0-9a-f]{8}", r["id"]) for r in generated(20, set_id="hexadecimal", id_start_key="ab"))


def test_data_generator_stress_test_repeats_one_record_as_separate_objects():
    records = generated(20, stress_test=True)
    assert len(records) == 20 and all(record == records[0] for record in records)
    records[0]["ip"] = "changed"
    assert records[1]["ip"] != "changed"


def test_data_generator_delay_waits_before_returning():
    began = time.monotonic()
    generated(5, delay=0.05)
    assert time.monotonic() - began >= 0.05


def test_data_generator_json_schema_is_refused_at_build():
    with pytest.raises(Invalid, match="json_schema is not supported"):
        generated(1, json_schema="/tmp/schema.json")


def test_data_generator_200k_records_generate_well_under_10_seconds():
    # A sanity bound, not a benchmark: the same work takes well under a second on a developer machine.
    fetcher = pipeline({"_op": "data_generator", "size": 200_000}, {"_op": "noop"}).fetcher
    began = time.process_time()
    count = sum(len(fetcher.fetch({"count": 5000, "processed": n})) for n in range(0, 200_000, 5000))
    assert count == 200_000
    assert time.process_time() - began < 10


# test-reader


def test_test_reader_once_slices_its_ten_requests_then_stops():
    assert drain(the_slicer({"_op": "test-reader"}, {"_op": "noop"})) == list(TEST_READER_REQUESTS)


def test_test_reader_persistent_cycles_from_the_second_request():
    slicer = the_slicer({"_op": "test-reader"}, {"_op": "noop"}, lifecycle="persistent")
    assert take(slicer, 18) == [*TEST_READER_REQUESTS[1:], *TEST_READER_REQUESTS[1:]]


def test_test_reader_is_not_recoverable():
    with pytest.raises(Invalid, match="^Slicer is not recoverable$"):
        slicers({"_op": "test-reader"}, {"_op": "noop"}, start_points={})


def test_test_reader_fetches_187_default_records_every_slice():
    reader = pipeline({"_op": "test-reader"}, {"_op": "noop"})
    first = reader.fetcher.fetch(TEST_READER_REQUESTS[0])
    assert len(first) == 187
    assert all(set(record) == {"id", "name", "ip", "url", "created"} for record in first)
    assert reader.fetcher.fetch(TEST_READER_REQUESTS[1]) == first


def test_test_reader_reads_its_data_files(file_roots, tmp_path):
    (tmp_path / "slices.json").write_text(json.dumps([{"a": 1}, {"a": 2}]))
    (tmp_path / "records.json").write_text(json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]))
    operations = (
        {
            "_op": "test-reader",
            "slicer_data_file_path": str(tmp_path / "slices.json"),
            "fetcher_data_file_path": str(tmp_path / "records.json"),
        },
        {"_op": "noop"},
    )
    assert drain(the_slicer(*operations)) == [{"a": 1}, {"a": 2}]
    assert pipeline(*operations).fetcher.fetch({"a": 1}) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_test_reader_missing_data_file_is_reported(file_roots, tmp_path):
    with pytest.raises(Invalid, match="Unable to read file at path"):
        the_slicer({"_op": "test-reader", "slicer_data_file_path": str(tmp_path / "none.json")}, {"_op": "noop"})


def test_test_reader_passthrough_returns_the_request():
    assert passthrough({"_op": "noop"}).fetcher.fetch([{"x": 1}]) == [{"x": 1}]
    with pytest.raises(TypeError, match="passthrough_slice is set to true it expects an array"):
        passthrough({"_op": "noop"}).fetcher.fetch({"x": 1})


# Processors through Pipeline.run


def test_noop_passes_records_through():
    assert passthrough({"_op": "noop"}).run([{"a": 1}, {"a": 2}], "s1").count == 2


def test_delay_waits_ms_per_batch():
    began = time.monotonic()
    passthrough({"_op": "delay", "ms": "60ms"}).run([{"a": 1}], "s1")
    assert time.monotonic() - began >= 0.06


def test_collect_holds_records_until_size():
    run = passthrough({"_op": "collect", "size": 5}).run
    assert run([{"n": 1}, {"n": 2}], "s1").count == 0
    assert run([{"n": 3}, {"n": 4}], "s2").count == 0
    assert run([{"n": 5}, {"n": 6}], "s3").count == 6


def test_collect_emits_after_wait():
    run = passthrough({"_op": "collect", "size": 100, "wait": 40}).run
    assert run([{"n": 1}], "s1").count == 0
    time.sleep(0.05)
    assert run([{"n": 2}], "s2").count == 2


def test_collect_without_size_or_wait_holds_nothing_back():
    assert passthrough({"_op": "collect"}).run([{"n": 1}], "s1").count == 1


def test_collect_shutdown_with_records_held_is_an_error():
    collecting = passthrough({"_op": "collect", "size": 10}, {"_op": "noop"})
    collecting.run([{"n": 1}], "s1")
    with pytest.raises(RuntimeError, match="Collect is shutdown with 1 unprocessed records"):
        collecting.shutdown()


def test_collect_shutdown_after_emitting_everything_is_clean():
    collecting = passthrough({"_op": "collect", "size": 1})
    collecting.run([{"n": 1}], "s1")
    collecting.shutdown()


def test_stdout_prints_up_to_limit_and_passes_everything(capsys):
    assert passthrough({"_op": "stdout", "limit": 2}).run([{"n": 1}, {"n": 2}, {"n": 3}], "s1").count == 3
    assert capsys.readouterr().out.splitlines() == ['{"n": 1}', '{"n": 2}']


def test_stdout_limit_zero_prints_every_record(capsys):
    passthrough({"_op": "stdout"}).run([{"n": n} for n in range(5)], "s1")
    assert len(capsys.readouterr().out.splitlines()) == 5


class Double(MapProcessor):
    def map(self, record):
        return {**record, "n": record["n"] * 2}


class Even(FilterProcessor):
    def filter(self, record):
        return record["n"] % 4 == 0


class Remember(EachProcessor):
    seen: list = []

    def for_each(self, record):
        self.seen.append(record["n"])


def test_map_filter_and_each_processors_run_in_order(custom_processor):
    custom_processor("double", Double)
    custom_processor("even", Even)
    custom_processor("remember", Remember)
    Remember.seen = []
    result = passthrough({"_op": "double"}, {"_op": "even"}, {"_op": "remember"}).run(
        [{"n": n} for n in range(1, 7)], "s1"
    )
    assert result.count == 3
    assert Remember.seen == [4, 8, 12]


def test_analytics_has_one_entry_per_operation(custom_processor):
    custom_processor("even", Even)
    result = pipeline({"_op": "data_generator", "size": 10}, {"_op": "noop"}).run({"count": 10}, "s1")
    assert [(entry["op"], entry["order"], entry["count"]) for entry in result.analytics] == [
        ("data_generator", 0, 10),
        ("noop", 1, 10),
    ]
    result = passthrough({"_op": "even"}, {"_op": "noop"}).run([{"n": n} for n in range(8)], "s1")
    assert [(entry["op"], entry["order"], entry["count"]) for entry in result.analytics] == [
        ("test-reader", 0, 8),
        ("even", 1, 2),
        ("noop", 2, 2),
    ]
    assert all(entry["time_ms"] >= 0 for entry in result.analytics)


def test_operations_get_their_options_and_the_execution(custom_processor):
    seen = {}

    class Inspect(BatchProcessor):
        def on_batch(self, records):
            seen.update(op=self.op_config, ex_id=self.context.ex_id, job=self.context.job_config["name"])
            return records

    custom_processor("inspect", Inspect)
    passthrough({"_op": "inspect", "extra": 1}).run([], "s1")
    assert seen == {
        "op": {"_op": "inspect", "extra": 1, "_encoding": "json", "_dead_letter_action": "throw"},
        "ex_id": "ex-1",
        "job": "ops",
    }


# Slice lifecycle and retries


class Flaky(BatchProcessor):
    """Fails the first `failures` attempts of every slice; records the hooks it sees."""

    failures = 2
    veto = False

    def __init__(self, context):
        super().__init__(context)
        self.events = []
        self.attempts = 0

    def on_slice_started(self, slice_id):
        self.events.append(("started", slice_id))

    def on_slice_finished(self, slice_id):
        self.events.append(("finished", slice_id))

    def on_slice_failed(self, slice_id, error):
        self.events.append(("failed", slice_id, str(error)))

    def on_slice_retry(self, slice_id, attempt):
        self.events.append(("retry", slice_id, attempt))
        return not self.veto

    def on_batch(self, records):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ValueError(f"attempt {self.attempts} failed")
        return records


@pytest.fixture
def flaky(custom_processor):
    custom_processor("flaky", Flaky)
    worker = passthrough({"_op": "flaky"})
    return worker, worker.processors[0]


def test_slice_hooks_get_the_slice_id(flaky):
    worker, op = flaky
    op.failures = 0
    worker.run([{"n": 1}], "slice-7")
    assert op.events == [("started", "slice-7"), ("finished", "slice-7")]


def test_retries_wait_100ms_then_double(flaky):
    worker, op = flaky
    waits = []
    result = worker.run_with_retries([{"n": 1}], "s1", max_retries=3, sleep=waits.append)
    assert (result.count, result.retries) == (1, 2)
    assert waits == [0.1, 0.2]
    assert [event[0] for event in op.events] == ["started", "retry", "started", "retry", "started", "finished"]
    assert [event[2] for event in op.events if event[0] == "retry"] == [1, 2]


def test_a_slice_that_fails_every_attempt_fails_once(flaky):
    worker, op = flaky
    op.failures = 10
    with pytest.raises(SliceFailed) as failed:
        worker.run_with_retries([{"n": 1}], "s1", max_retries=2, sleep=lambda seconds: None)
    assert failed.value.retries == 2
    assert str(failed.value.__cause__) == "attempt 3 failed"
    assert op.attempts == 3
    assert [event for event in op.events if event[0] == "failed"] == [("failed", "s1", "attempt 3 failed")]


def test_max_retries_zero_is_one_attempt(flaky):
    worker, op = flaky
    with pytest.raises(SliceFailed):
        worker.run_with_retries([{"n": 1}], "s1", max_retries=0, sleep=lambda seconds: None)
    assert op.attempts == 1


def test_an_operation_can_veto_a_retry(flaky):
    worker, op = flaky
    op.veto = True
    with pytest.raises(SliceFailed) as failed:
        worker.run_with_retries([{"n": 1}], "s1", max_retries=5, sleep=lambda seconds: None)
    assert failed.value.retries == 0 and op.attempts == 1


def test_shutdown_reaches_every_operation_before_raising(custom_processor):
    shut = []

    class Closing(BatchProcessor):
        def on_batch(self, records):
            return records

        def shutdown(self):
            shut.append(self.op_config["_op"])

    custom_processor("closing", Closing)
    worker = passthrough({"_op": "collect", "size": 10}, {"_op": "closing"})
    worker.run([{"n": 1}], "s1")
    with pytest.raises(RuntimeError, match="Collect is shutdown"):
        worker.shutdown()
    assert shut == ["closing"]


def test_slicers_get_their_id_and_the_job():
    [slicer] = slicers({"_op": "data_generator"}, {"_op": "noop"})
    assert (slicer.slicer_id, slicer.total_slicers, slicer.context.slicer_id) == (0, 1, 0)
    assert slicer.context.ex_id == "ex-1" and slicer.op_config["_op"] == "data_generator"
