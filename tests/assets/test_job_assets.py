"""Jobs that use operations from assets: which asset an operation comes from, and its options checked
against the operation.json schema as stored (spec/teraslice.md §2.2, §6.4)."""

import pytest

from jobs.validation import validate_job
from jobsite.errors import Invalid

COUNTER = {"kind": "reader", "options": {"count": {"type": "integer", "minimum": 1, "default": 10}}}


def job(*operations, assets):
    return {"name": "asset job", "assets": assets, "operations": list(operations)}


def reader_then(op: dict, assets) -> dict:
    return job({"_op": "data_generator", "size": 10}, op, assets=assets)


def refusal(spec) -> str:
    with pytest.raises(Invalid) as raised:
        validate_job(spec)
    return raised.value.message


def test_the_execution_config_lists_the_resolved_asset_ids(make_asset):
    make_asset("ex1", "0.0.1")
    newest = make_asset("ex1", "0.1.1")
    config = validate_job(reader_then({"_op": "greet"}, ["ex1"])).config
    assert config["assets"] == [newest.id]


def test_an_asset_operation_gets_its_schema_defaults(make_asset):
    make_asset("ex1", "0.0.1")
    config = validate_job(reader_then({"_op": "greet"}, ["ex1"])).config
    assert config["operations"][1] == {
        "_op": "greet",
        "greeting": "hello",
        "_encoding": "json",
        "_dead_letter_action": "throw",
    }


def test_an_asset_operation_keeps_options_its_schema_does_not_declare(make_asset):
    make_asset("ex1", "0.0.1")
    config = validate_job(reader_then({"_op": "greet", "extra": [1]}, ["ex1"])).config
    assert config["operations"][1]["extra"] == [1]


def test_an_asset_operation_option_of_the_wrong_type_is_refused(make_asset):
    make_asset("ex1", "0.0.1")
    assert refusal(reader_then({"_op": "greet", "greeting": 3}, ["ex1"])) == (
        "Validation failed for operation config: greet - greeting: must be a string (got integer)"
    )


def test_an_asset_reader_is_the_first_operation(make_asset):
    make_asset("src", "1.0.0", operations={"counter": COUNTER})
    config = validate_job(job({"_op": "counter"}, {"_op": "noop"}, assets=["src"])).config
    assert config["operations"][0]["count"] == 10


def test_an_asset_reader_elsewhere_is_refused(make_asset):
    make_asset("src", "1.0.0", operations={"counter": COUNTER})
    assert "counter is a reader, it can only be the first operation" in refusal(
        reader_then({"_op": "counter"}, ["src"])
    )


def test_an_operation_in_two_assets_needs_an_at(make_asset):
    first = make_asset("ex1", "0.0.1")
    second = make_asset("ex2", "1.0.0")
    message = refusal(reader_then({"_op": "greet"}, ["ex1", "ex2"]))
    assert message.startswith('Multiple assets containing the same processor name _op: "greet"')
    assert first.id in message and second.id in message


def test_op_at_a_name_picks_that_asset(make_asset):
    make_asset("ex1", "0.0.1")
    second = make_asset("ex2", "1.0.0")
    config = validate_job(reader_then({"_op": "greet@ex2"}, ["ex1", "ex2"])).config
    assert config["operations"][1]["_op"] == f"greet@{second.id}"


def test_op_at_a_version_range_picks_among_versions(make_asset):
    old = make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.1.1")
    config = validate_job(reader_then({"_op": "greet@ex1:0.0.x"}, ["ex1:0.0.1", "ex1:0.1.1"])).config
    assert config["operations"][1]["_op"] == f"greet@{old.id}"


def test_op_at_an_id_picks_that_asset(make_asset):
    old = make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.1.1")
    config = validate_job(reader_then({"_op": f"greet@{old.id}"}, [old.id, "ex1"])).config
    assert config["operations"][1]["_op"] == f"greet@{old.id}"


def test_op_at_an_asset_the_job_does_not_list_is_refused(make_asset):
    make_asset("ex1", "0.0.1")
    assert '"other" must name one of the job\'s assets' in refusal(reader_then({"_op": "greet@other"}, ["ex1"]))


def test_an_unknown_operation_names_the_assets_searched(make_asset):
    asset = make_asset("ex1", "0.0.1")
    assert refusal(reader_then({"_op": "shout"}, ["ex1"])) == (
        f"Unable to find module for operation: shout (searched the job's assets: ex1:0.0.1 ({asset.id}))"
    )


def test_a_built_in_wins_over_an_asset_operation_of_its_name(make_asset):
    make_asset("ex1", "0.0.1", operations={"noop": {"kind": "processor", "options": {"x": {"type": "integer"}}}})
    config = validate_job(reader_then({"_op": "noop"}, ["ex1"])).config
    assert "x" not in config["operations"][1]


def test_an_unresolvable_asset_fails_the_job(db):
    assert refusal(reader_then({"_op": "noop"}, ["missing"])) == (
        'Failure to get assets, caused by No assets found for "missing"'
    )
