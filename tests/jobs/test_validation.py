"""Job validation (spec/teraslice.md §2, §7): defaults, coercion, and the messages of rejected jobs."""

import copy
import dataclasses
import os

import pytest

from jobs.ops.registry import Kind, get_operation
from jobs.validation import validate_job
from jobsite.errors import Invalid


def job(*operations, **fields):
    """A valid job spec: data_generator → noop unless operations are given."""
    return {
        "name": "test job",
        "operations": list(operations) or [{"_op": "data_generator", "size": 1000}, {"_op": "noop"}],
        **fields,
    }


def config_of(spec):
    return validate_job(spec).config


def rejection(spec) -> str:
    with pytest.raises(Invalid) as raised:
        validate_job(spec)
    return raised.value.message


# Job-level defaults and coercion


def test_job_defaults_are_filled_in():
    config = config_of(job())
    assert {key: config[key] for key in config if key not in ("name", "operations")} == {
        "lifecycle": "once",
        "workers": min(os.cpu_count() or 1, 5),
        "slicers": 1,
        "apis": [],
        "assets": None,
        "analytics": True,
        "active": True,
        "autorecover": False,
        "max_retries": 3,
        "probation_window": 300_000,
        "stateful": False,
        "env_vars": {},
        "labels": None,
        "log_level": None,
        "close_on_complete": False,
    }


def test_missing_name_defaults_to_custom_job():
    spec = job()
    del spec["name"]
    assert config_of(spec)["name"] == "Custom Job"


def test_submitted_values_are_kept():
    spec = job(lifecycle="persistent", workers=2, slicers=3, max_retries=0, log_level="debug", labels={"team": "a"})
    config = config_of(spec)
    assert {key: config[key] for key in ("lifecycle", "workers", "slicers", "max_retries", "log_level", "labels")} == {
        "lifecycle": "persistent",
        "workers": 2,
        "slicers": 3,
        "max_retries": 0,
        "log_level": "debug",
        "labels": {"team": "a"},
    }


def test_submitted_spec_is_not_modified():
    spec = job(
        {"_op": "data_generator"},
        {"_op": "delay", "ms": "2s"},
        workers="2",
        apis=[{"_name": "dlq"}],
        probation_window="1 minute",
    )
    submitted = copy.deepcopy(spec)
    validate_job(spec)
    assert spec == submitted


def test_validated_config_shares_nothing_with_the_spec():
    spec = job(env_vars={"A": "1"})
    config = config_of(spec)
    config["env_vars"]["B"] = "2"
    config["operations"][0]["size"] = 7
    assert spec["env_vars"] == {"A": "1"}
    assert spec["operations"][0]["size"] == 1000


def test_integer_like_strings_are_coerced():
    config = config_of(job(workers="3", slicers="2", max_retries="0"))
    assert (config["workers"], config["slicers"], config["max_retries"]) == (3, 2, 0)


def test_non_integer_workers_are_rejected():
    assert "workers: must be valid integer greater than zero" in rejection(job(workers="2.5"))


def test_boolean_workers_are_rejected():
    assert "workers: must be valid integer greater than zero" in rejection(job(workers=True))


@pytest.mark.parametrize(
    ("value", "milliseconds"),
    [(0, 0), (1500, 1500), ("1500", 1500), ("100ms", 100), ("2s", 2000), ("5 minutes", 300_000), ("1 hour", 3_600_000)],
)
def test_duration_strings_become_milliseconds(value, milliseconds):
    assert config_of(job(probation_window=value))["probation_window"] == milliseconds


@pytest.mark.parametrize("value", [-1, 1.5, float("inf"), float("nan"), "soon", "5 fortnights", True, None])
def test_invalid_duration_is_rejected(value):
    assert "probation_window: " in rejection(job(probation_window=value))


def test_unknown_job_keys_are_kept():
    config = config_of(job(performance_metrics=True, owner={"team": "data"}))
    assert config["performance_metrics"] is True
    assert config["owner"] == {"team": "data"}


def test_unknown_operation_keys_are_kept():
    config = config_of(job({"_op": "data_generator", "comment": "hi"}, {"_op": "noop", "_connection": "default"}))
    assert config["operations"][0]["comment"] == "hi"
    assert config["operations"][1]["_connection"] == "default"


def test_validation_produces_no_warnings():
    assert validate_job(job()).warnings == []


# Job-level rejections: the e2e list of spec §2.4 and the other fields of §2.1


def test_message_names_the_job():
    assert rejection(job(workers=0)).startswith("Validation failed for job config: test job - ")


def test_workers_zero_is_rejected():
    assert "workers: must be valid integer greater than zero" in rejection(job(workers=0))


@pytest.mark.parametrize("slicers", [0, -1])
def test_slicers_below_one_are_rejected(slicers):
    assert "slicers: must be valid integer greater than zero" in rejection(job(slicers=slicers))


def test_invalid_lifecycle_is_rejected():
    assert 'lifecycle: must be one of once, persistent (got "invalid")' in rejection(job(lifecycle="invalid"))


def test_non_string_name_is_rejected():
    assert "name: must be a string" in rejection(job(name=5))


def test_negative_max_retries_is_rejected():
    assert "max_retries: must be valid integer greater than or equal to zero" in rejection(job(max_retries=-1))


def test_non_boolean_analytics_is_rejected():
    assert "analytics: must be a boolean" in rejection(job(analytics="sometimes"))


def test_unknown_log_level_is_rejected():
    assert "log_level: must be one of trace, debug, info, warn, error, fatal" in rejection(job(log_level="loud"))


def test_every_failing_field_is_reported():
    message = rejection(job(workers=0, slicers=0))
    assert "workers: " in message and "slicers: " in message


@pytest.mark.parametrize("operations", [[{"_op": "data_generator"}], [], {"_op": "noop"}, None])
def test_operations_need_a_list_of_at_least_two(operations):
    message = rejection(job(operations=operations))
    assert "Operations need to be of type array with at least two operations in it" in message


def test_operation_that_is_not_an_object_is_rejected():
    assert "Invalid Operation config in operations, got string" in rejection(job({"_op": "data_generator"}, "noop"))


def test_assets_must_be_a_list():
    assert "assets need to be of type array" in rejection(job(assets="ex1"))


def test_assets_must_be_strings():
    assert "assets needs to be an array of strings" in rejection(job(assets=["ex1", 2]))


def test_an_empty_assets_list_is_kept():
    assert config_of(job(assets=[]))["assets"] == []


def test_env_vars_must_be_an_object():
    assert "env_vars: must be object" in rejection(job(env_vars=["A=1"]))


def test_env_vars_values_must_not_be_empty():
    assert 'env_vars: value for key "A" must be not empty' in rejection(job(env_vars={"A": ""}))


def test_labels_keys_must_not_be_empty():
    assert "labels: key must be not empty" in rejection(job(labels={"": "x"}))


def test_api_needs_a_name():
    assert "API requires an _name" in rejection(job(apis=[{"_encoding": "json"}]))


def test_duplicate_api_names_are_rejected():
    assert "Duplicate API configurations for dlq found" in rejection(job(apis=[{"_name": "dlq"}, {"_name": "dlq"}]))


def test_api_defaults_are_filled_in():
    assert config_of(job(apis=[{"_name": "dlq", "url": "x"}]))["apis"] == [
        {"_name": "dlq", "url": "x", "_dead_letter_action": "throw"}
    ]


def test_invalid_api_encoding_names_the_api():
    message = rejection(job(apis=[{"_name": "dlq", "_encoding": "xml"}]))
    assert message.startswith("Validation failed for api config: dlq - _encoding: ")


# Operations: lookup and order


def test_unknown_operation_is_named():
    assert rejection(job({"_op": "data_generator"}, {"_op": "drop_property"})) == (
        "Unable to find module for operation: drop_property"
    )


def test_operation_without_op_is_rejected():
    assert rejection(job({"size": 5}, {"_op": "noop"})) == (
        "Validation failed for operation config: operations[0] - _op: is required and must be a string"
    )


def test_empty_reader_is_rejected():
    message = rejection(job({"_op": "file_reader", "path": ""}, {"_op": "noop"}))
    assert message == "Validation failed for operation config: file_reader - path: must not be empty"


def test_first_operation_must_be_a_reader():
    assert rejection(job({"_op": "noop"}, {"_op": "noop"})) == (
        "Validation failed for operation config: noop - the first operation must be a reader, noop is a processor"
    )


def test_reader_after_the_first_operation_is_rejected():
    message = rejection(job({"_op": "data_generator"}, {"_op": "test-reader"}))
    assert message == (
        "Validation failed for operation config: test-reader - "
        "test-reader is a reader, it can only be the first operation (found at index 1)"
    )


def test_builtin_operation_kinds():
    kinds = {name: get_operation(name).kind for name in ("data_generator", "test-reader", "file_reader")}
    kinds |= {name: get_operation(name).kind for name in ("noop", "delay", "collect", "stdout", "file_exporter")}
    assert kinds == {
        "data_generator": Kind.READER,
        "test-reader": Kind.READER,
        "file_reader": Kind.READER,
        "noop": Kind.PROCESSOR,
        "delay": Kind.PROCESSOR,
        "collect": Kind.PROCESSOR,
        "stdout": Kind.PROCESSOR,
        "file_exporter": Kind.PROCESSOR,
    }


# Operations: common fields


def test_common_operation_fields_get_defaults():
    noop = config_of(job())["operations"][1]
    assert noop == {"_op": "noop", "_encoding": "json", "_dead_letter_action": "throw"}


def test_invalid_encoding_is_rejected():
    message = rejection(job({"_op": "data_generator"}, {"_op": "noop", "_encoding": "xml"}))
    assert message.startswith("Validation failed for operation config: noop - _encoding: must be one of json, raw")


def test_api_name_must_match_a_job_api():
    message = rejection(job({"_op": "data_generator"}, {"_op": "noop", "_api_name": "dlq"}))
    assert message == "Validation failed for operation config: noop - Could not find the associated api for dlq"


def test_api_name_matching_a_job_api_is_accepted():
    config = config_of(job({"_op": "data_generator"}, {"_op": "noop", "_api_name": "dlq"}, apis=[{"_name": "dlq"}]))
    assert config["operations"][1]["_api_name"] == "dlq"


# Operations: each built-in's options


def options_of(op: dict, position: int) -> dict:
    """The validated options of `op` placed at `position` (0 = reader) in an otherwise minimal job."""
    operations = [{"_op": "data_generator"}, {"_op": "noop"}]
    operations[position] = op
    validated = config_of(job(*operations))["operations"][position]
    return {key: value for key, value in validated.items() if key not in ("_op", "_encoding", "_dead_letter_action")}


def test_data_generator_defaults():
    assert options_of({"_op": "data_generator"}, 0) == {
        "size": 5000,
        "json_schema": None,
        "start": None,
        "end": None,
        "format": None,
        "stress_test": False,
        "delay": 0,
        "date_key": "created",
        "set_id": None,
        "id_start_key": None,
    }


@pytest.mark.parametrize("size", [0, -5, "many"])
def test_data_generator_size_must_be_positive(size):
    message = rejection(job({"_op": "data_generator", "size": size}, {"_op": "noop"}))
    assert "size: must be valid integer greater than zero" in message


def test_data_generator_id_start_key_requires_set_id():
    message = rejection(job({"_op": "data_generator", "id_start_key": "a"}, {"_op": "noop"}))
    assert message == (
        "Validation failed for operation config: data_generator - "
        "id_start_key: must be used with set_id, which is not set"
    )


def test_data_generator_id_start_key_with_set_id_is_accepted():
    options = options_of({"_op": "data_generator", "id_start_key": "a", "set_id": "hexadecimal"}, 0)
    assert (options["id_start_key"], options["set_id"]) == ("a", "hexadecimal")


def test_data_generator_unknown_set_id_is_rejected():
    assert "set_id: must be one of base64url, hexadecimal, HEXADECIMAL" in rejection(
        job({"_op": "data_generator", "set_id": "decimal"}, {"_op": "noop"})
    )


def test_data_generator_unknown_format_is_rejected():
    assert "format: must be one of dateNow, isoBetween, utcDate, utcBetween" in rejection(
        job({"_op": "data_generator", "format": "epoch"}, {"_op": "noop"})
    )


def test_data_generator_dates_become_iso_strings():
    options = options_of({"_op": "data_generator", "start": "2024-01-01", "end": 1735689600000}, 0)
    assert (options["start"], options["end"]) == ("2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z")


def test_data_generator_invalid_date_is_rejected():
    assert 'start: value "yesterday" cannot be coerced into a proper date' in rejection(
        job({"_op": "data_generator", "start": "yesterday"}, {"_op": "noop"})
    )


def test_data_generator_start_after_end_is_rejected():
    assert "start: must be before end" in rejection(
        job({"_op": "data_generator", "start": "2024-02-01", "end": "2024-01-01"}, {"_op": "noop"})
    )


def test_data_generator_stress_test_forbids_delay():
    assert "delay: must be 0 while stress_test is true" in rejection(
        job({"_op": "data_generator", "stress_test": True, "delay": 1}, {"_op": "noop"})
    )


def test_test_reader_defaults():
    assert options_of({"_op": "test-reader"}, 0) == {
        "fetcher_data_file_path": None,
        "slicer_data_file_path": None,
        "passthrough_slice": False,
    }


@pytest.fixture
def data_and_tmp_roots(settings):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, file_roots="/data:/tmp")


def test_file_reader_defaults(data_and_tmp_roots):
    assert options_of({"_op": "file_reader", "path": "/data/*.json"}, 0) == {
        "path": "/data/*.json",
        "format": "json",
        "size": 1_000_000,
        "fields": None,
        "delimiter": ",",
    }


def test_file_reader_requires_a_path():
    assert "path: is required" in rejection(job({"_op": "file_reader"}, {"_op": "noop"}))


def test_file_reader_delimiter_is_one_character():
    assert "delimiter: must be a single character" in rejection(
        job({"_op": "file_reader", "path": "a.csv", "format": "csv", "delimiter": ";;"}, {"_op": "noop"})
    )


def test_file_reader_fields_must_be_strings():
    assert "fields.1: must be a string" in rejection(
        job({"_op": "file_reader", "path": "a.csv", "fields": ["a", 1]}, {"_op": "noop"})
    )


def test_noop_has_no_options():
    assert options_of({"_op": "noop"}, 1) == {}


def test_delay_defaults():
    assert options_of({"_op": "delay"}, 1) == {"ms": 100}


def test_delay_accepts_a_duration_string():
    assert options_of({"_op": "delay", "ms": "2s"}, 1) == {"ms": 2000}


def test_delay_rejects_a_negative_duration():
    assert "ms: must be a non-negative integer of milliseconds" in rejection(
        job({"_op": "data_generator"}, {"_op": "delay", "ms": -1})
    )


def test_collect_defaults():
    assert options_of({"_op": "collect"}, 1) == {"size": None, "wait": None}


def test_collect_accepts_size_and_wait():
    assert options_of({"_op": "collect", "size": 100, "wait": "5 seconds"}, 1) == {"size": 100, "wait": 5000}


def test_stdout_defaults():
    assert options_of({"_op": "stdout"}, 1) == {"limit": 0}


def test_stdout_negative_limit_is_rejected():
    assert "limit: must be valid integer greater than or equal to zero" in rejection(
        job({"_op": "data_generator"}, {"_op": "stdout", "limit": -1})
    )


def test_file_exporter_defaults(data_and_tmp_roots):
    assert options_of({"_op": "file_exporter", "path": "/tmp/out"}, 1) == {
        "path": "/tmp/out",
        "format": "json",
        "fields": None,
    }


def test_file_exporter_requires_a_path():
    assert "path: is required" in rejection(job({"_op": "data_generator"}, {"_op": "file_exporter"}))


def test_file_exporter_unknown_format_is_rejected(data_and_tmp_roots):
    assert "format: must be one of json, csv" in rejection(
        job({"_op": "data_generator"}, {"_op": "file_exporter", "path": "/tmp/out", "format": "parquet"})
    )
