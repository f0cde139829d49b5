"""The operations a job may name in `operations[]._op`, by name (spec/teraslice.md §2.2, §7).

A reader (slicer + fetcher) can only be the first operation of a job; every later one is a processor.
"""

from dataclasses import dataclass
from enum import StrEnum

from rest_framework import serializers

from jobs.ops.options import (
    CollectOptions,
    DataGeneratorOptions,
    DelayOptions,
    FileExporterOptions,
    FileReaderOptions,
    NoopOptions,
    StdoutOptions,
    TestReaderOptions,
)
from jobsite.errors import Invalid


class Kind(StrEnum):
    READER = "reader"
    PROCESSOR = "processor"


@dataclass(frozen=True)
class Operation:
    name: str
    kind: Kind
    options: type[serializers.Serializer]


_operations: dict[str, Operation] = {}


def register(name: str, kind: Kind | str, options: type[serializers.Serializer]) -> Operation:
    """Make `name` available to jobs. A name can be registered once: nothing may shadow a built-in."""
    if name in _operations:
        raise ValueError(f"operation {name!r} is already registered")
    operation = Operation(name, Kind(kind), options)
    _operations[name] = operation
    return operation


def get_operation(name: str) -> Operation:
    """The registered operation called `name`; `Invalid` when there is none."""
    try:
        return _operations[name]
    except KeyError:
        raise Invalid(f"Unable to find module for operation: {name}") from None


register("data_generator", Kind.READER, DataGeneratorOptions)
register("test-reader", Kind.READER, TestReaderOptions)
register("file_reader", Kind.READER, FileReaderOptions)
register("noop", Kind.PROCESSOR, NoopOptions)
register("delay", Kind.PROCESSOR, DelayOptions)
register("collect", Kind.PROCESSOR, CollectOptions)
register("stdout", Kind.PROCESSOR, StdoutOptions)
register("file_exporter", Kind.PROCESSOR, FileExporterOptions)
