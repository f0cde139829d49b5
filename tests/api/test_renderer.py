"""The API's JSON renderer writes, byte for byte, what DRF's own renderer writes at indent 4 (the standard
library's encoder), for every value: its own encoder for the JSON types, the standard library's for the
rest (issue 15: the standard library indents in Python, through a generator per container)."""

import datetime
import decimal
import enum
import random
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from jobsite.api.renderers import TerasliceJSONRenderer


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Level(enum.IntEnum):
    HIGH = 3


class State(enum.StrEnum):
    OPENED = "opened"


CHARACTERS = "ab\"\\\n\t\r\b\f\x00\x1f\x7f\u2028\u2029é☃𝄞 /<>&'"


def drf(value) -> bytes:
    return JSONRenderer().render(value, renderer_context={"indent": 4})


def ours(value) -> bytes:
    return TerasliceJSONRenderer().render(value)


def random_text(rng) -> str:
    return "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(0, 8)))


def random_scalar(rng):
    return rng.choice(
        [
            random_text(rng),
            Text(random_text(rng)),
            rng.randint(-(10**20), 10**20),
            Number(5),
            Level.HIGH,
            State.OPENED,
            True,
            False,
            None,
            rng.random() * 10.0 ** rng.randint(-300, 300),
            -0.0,
            Real(1.5),
            1e16,
            1e-07,
            5e-324,
            2**64,
        ]
    )


def random_value(rng, depth=0):
    choice = rng.random()
    if depth > 5 or choice < 0.4:
        return random_scalar(rng)
    items = range(rng.randint(0, 4))
    if choice < 0.6:
        return [random_value(rng, depth + 1) for _ in items]
    if choice < 0.65:
        return tuple(random_value(rng, depth + 1) for _ in items)
    if choice < 0.7:
        return ReturnList((random_value(rng, depth + 1) for _ in items), serializer=None)
    if choice < 0.75:
        return ReturnDict({random_text(rng): random_value(rng, depth + 1) for _ in items}, serializer=None)
    return {random_text(rng): random_value(rng, depth + 1) for _ in items}


@pytest.mark.parametrize("seed", range(4))
def test_random_json_values_are_written_as_drf_writes_them(seed):
    rng = random.Random(seed)
    for _ in range(2000):
        value = random_value(rng)
        assert ours(value) == drf(value), value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        [],
        {},
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC), "day": datetime.date(2026, 1, 2)},
        [decimal.Decimal("1.10"), uuid.UUID(int=7), gettext_lazy("Jobs")],
        {1: "a", None: "b", 1.5: "c", False: "d"},
        {"job": {"ok": [1, 2, {"deep": [[], {}]}]}, "keys": {"same": 1}, "again": {"same": 2}},
    ],
)
def test_values_beyond_json_types_are_written_as_drf_writes_them(value):
    assert ours(value) == drf(value)


@pytest.mark.parametrize("value", [float("nan"), {"a": [float("inf")]}, {("tuple", "key"): 1}, {"x": object()}])
def test_what_drf_refuses_is_refused_the_same_way(value):
    with pytest.raises(Exception) as drf_error:
        drf(value)
    with pytest.raises(type(drf_error.value)) as our_error:
        ours(value)
    assert str(our_error.value) == str(drf_error.value)


def test_a_circular_value_is_refused_as_drf_refuses_it():
    loop = []
    loop.append(loop)

    with pytest.raises(ValueError, match="Circular reference detected"):
        ours({"loop": loop})
