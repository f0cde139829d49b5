"""The operations a job may name in `operations[]._op`, by name (spec/teraslice.md §2.2, §7).

A reader (slicer + fetcher) can only be the first operation of a job; every later one is a processor.
What runs an operation (`jobs.ops.api`) is attached to its registration by `implement`, so validating a job
never imports the code that runs it.
"""

from dataclasses import dataclass, replace
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
    # A `jobs.ops.api.Reader` for a reader, a `jobs.ops.api.Processor` subclass for a processor.
    runtime: object = None


_operations: dict[str, Operation] = {}


def register(name: str, kind: Kind | str, options: type[serializers.Serializer], runtime: object = None) -> Operation:
    """Make `name` available to jobs. A name can be registered once: nothing may shadow a built-in."""
    if name in _operations:
        raise ValueError(f"operation {name!r} is already registered")
    operation = Operation(name, Kind(kind), options, runtime)
    _operations[name] = operation
    return operation


def implement(name: str, runtime: object) -> Operation:
    """Attach what runs the registered operation `name`; it can be attached once."""
    operation = get_operation(name)
    if operation.runtime is not None:
        raise ValueError(f"operation {name!r} is already implemented")
    _operations[name] = replace(operation, runtime=runtime)
    return _operations[name]


def is_registered(name: str) -> bool:
    """Whether `name` is a built-in operation (asset operations are never registered here)."""
    return name in _operations


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
