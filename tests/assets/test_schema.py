"""Options schemas of asset operations (operation.json `options`), checked as data."""

import pytest

from assets.schema import options_serializer, schema_problems


def validated(schema: dict, values: dict):
    serializer = options_serializer(schema)(data=values)
    return serializer.validated_data if serializer.is_valid() else serializer.errors


def message(schema: dict, values: dict) -> str:
    errors = validated(schema, values)
    return "; ".join(f"{key}: {errors[key][0]}" for key in errors)


def test_a_default_fills_a_missing_option():
    assert validated({"word": {"type": "string", "default": "hi"}}, {}) == {"word": "hi"}


def test_an_option_without_default_is_null_when_missing():
    assert validated({"word": {"type": "string"}}, {}) == {"word": None}


def test_a_required_option_must_be_given():
    assert message({"word": {"type": "string", "required": True}}, {}) == "word: is required"


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("string", 1, "must be a string (got integer)"),
        ("integer", 1.5, "must be an integer (got number)"),
        ("integer", True, "must be an integer (got boolean)"),
        ("number", "1", "must be a number (got string)"),
        ("boolean", "true", "must be a boolean (got string)"),
        ("object", [], "must be an object (got array)"),
        ("array", {}, "must be an array (got object)"),
    ],
)
def test_a_value_of_another_type_is_refused(kind, value, expected):
    assert message({"x": {"type": kind}}, {"x": value}) == f"x: {expected}"


def test_an_integral_number_is_an_integer():
    assert validated({"x": {"type": "integer"}}, {"x": 3.0}) == {"x": 3}


def test_minimum_and_maximum_bound_numbers():
    schema = {"x": {"type": "number", "minimum": 1, "maximum": 2}}
    assert message(schema, {"x": 0.5}) == "x: must be at least 1"
    assert message(schema, {"x": 3}) == "x: must be at most 2"


def test_max_length_bounds_strings_and_arrays():
    assert message({"x": {"type": "string", "max_length": 2}}, {"x": "abc"}) == "x: must be at most 2 characters"
    assert message({"x": {"type": "array", "max_length": 1}}, {"x": [1, 2]}) == "x: must be at most 1 items"


def test_enum_lists_the_allowed_values():
    assert message({"x": {"type": "string", "enum": ["a", "b"]}}, {"x": "c"}) == 'x: must be one of a, b (got "c")'


def test_undeclared_options_are_not_checked():
    assert validated({}, {"anything": 1}) == {}


def test_a_usable_schema_has_no_problems():
    assert schema_problems({"x": {"type": "integer", "minimum": 0, "default": 1, "description": "x"}}) == []


def test_schema_problems_are_named():
    assert schema_problems({"x": {"type": "date", "min": 1}}) == [
        "x: type must be one of string, integer, number, boolean, object, array",
        "x: unknown schema keys min",
    ]
