"""The Operation API: what a reader or processor implements, and how the engine runs them (spec §7.3).

A job is a reader followed by processors. A reader is a pair of classes registered under one name: a
`Slicer`, run by the execution controller, that cuts the work into requests (one request = one slice), and
a `Fetcher`, run by workers, that turns a request into records. Processors transform a slice's records.

Operations from asset bundles are not in the registry: the engine loads them on worker nodes and passes
their runtimes (`runtimes`, by the `_op` of the execution's config) to `build_slicers` and `Pipeline.build`.

The engine uses three entry points:

- `build_slicers(job_config, context, start_points)` once per execution, then `slicer.slice()` until it
  returns None (lifecycle `once`), keeping at most `slicer.max_queue_length(workers)` slices pending;
- `Pipeline.build(job_config, context)` once per worker, then `pipeline.run_with_retries(request,
  slice_id, max_retries)` (or `pipeline.run(request, slice_id)` per attempt) for every slice it claims;
- `pipeline.shutdown()` when the worker leaves the execution.

Every class gets an `OperationContext`. A worker's operations live as long as its part in the execution
and may keep state from slice to slice (collect does), but nothing another process relies on: a slicer's
progress survives a restart only through its start point or its `checkpoint()`.
"""

import importlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, NamedTuple

from jobs.ops.registry import Kind, get_operation
from jobsite.errors import Invalid

Record = dict[str, Any]

# Modules whose import attaches the built-in operations' runtimes to the registry.
BUILTIN_MODULES = ("jobs.ops.generator", "jobs.ops.readers", "jobs.ops.processors", "jobs.ops.files")


@dataclass(frozen=True)
class OperationContext:
    """What an operation is given: its own validated options and where it runs."""

    ex_id: str
    # The execution's validated job config (spec §2.3).
    job_config: dict = field(default_factory=dict)
    # This operation's validated options (Teraslice's `opConfig`), `_op` included.
    op_config: dict = field(default_factory=dict)
    slicer_id: int | None = None
    worker_id: str | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("jobs.ops"))

    def for_operation(self, op_config: dict, **changes) -> "OperationContext":
        """This context given to the operation configured by `op_config`."""
        return replace(self, op_config=op_config, logger=self.logger.getChild(op_config["_op"]), **changes)

    @property
    def lifecycle(self) -> str:
        return self.job_config.get("lifecycle", "once")


class Slicer:
    """Cuts an execution's work into requests. Runs in the execution controller.

    `start_point` is None on a fresh start; when recovering it is the request of this slicer's last
    completed slice (highest `slicer_order`) of the recovered execution, or None if it completed none.
    """

    # A parallel slicer runs once per `slicers` of the job (ids 0..n-1); any other runs once.
    parallel = False

    def __init__(self, context: OperationContext, slicer_id: int, total_slicers: int, start_point: Any = None):
        self.context = context
        self.op_config = context.op_config
        self.logger = context.logger
        self.slicer_id = slicer_id
        self.total_slicers = total_slicers
        self.start_point = start_point

    @property
    def persistent(self) -> bool:
        return self.context.lifecycle == "persistent"

    def slice(self) -> Any:
        """The next request, a list of requests (one slice each), or None.

        None means "done" for lifecycle `once` and "nothing now" for `persistent`.
        """
        raise NotImplementedError

    def is_recoverable(self) -> bool:
        """Whether this slicer can continue from a start point; recovering a job whose slicer cannot fails."""
        return False

    def max_queue_length(self, workers: int) -> int:
        """How many of this slicer's slices may wait for a worker (back pressure), given connected workers."""
        return 10_000

    def checkpoint(self) -> Any:
        """JSON-able state from which `restore` continues slicing; None when the slicer has none."""
        return None

    def restore(self, state: Any) -> None:
        """Continue slicing from a `checkpoint()` of an earlier instance."""

    def shutdown(self) -> None:
        """Release what the slicer holds; called once when the controller stops."""


class OperationCore:
    """What fetchers and processors share: their context and the worker's slice lifecycle hooks."""

    def __init__(self, context: OperationContext):
        self.context = context
        self.op_config = context.op_config
        self.logger = context.logger

    def on_slice_started(self, slice_id: str) -> None:
        """Called before every attempt of a slice, before anything is fetched."""

    def on_slice_finished(self, slice_id: str) -> None:
        """Called after a slice went through every operation."""

    def on_slice_failed(self, slice_id: str, error: BaseException) -> None:
        """Called once when a slice failed for good (no retry left or a retry was vetoed)."""

    def on_slice_retry(self, slice_id: str, attempt: int) -> bool:
        """Called before retry `attempt` (1-based) of a failed slice; False vetoes the retry."""
        return True

    def shutdown(self) -> None:
        """Called once when the worker leaves the execution; raise to report records left unprocessed."""


class Fetcher(OperationCore):
    def fetch(self, request: Any) -> list[Record]:
        """The records of one slice's request."""
        raise NotImplementedError


class Processor(OperationCore):
    """Base of every processor: the engine calls `run` whatever the processor's style."""

    def run(self, records: list[Record]) -> list[Record]:
        raise NotImplementedError


class BatchProcessor(Processor):
    def on_batch(self, records: list[Record]) -> list[Record]:
        raise NotImplementedError

    def run(self, records):
        return self.on_batch(records)


class EachProcessor(Processor):
    """Sees every record for a side effect; records pass through unchanged."""

    def for_each(self, record: Record) -> None:
        raise NotImplementedError

    def run(self, records):
        for record in records:
            self.for_each(record)
        return records


class MapProcessor(Processor):
    def map(self, record: Record) -> Record:
        raise NotImplementedError

    def run(self, records):
        return [self.map(record) for record in records]


class FilterProcessor(Processor):
    def filter(self, record: Record) -> bool:
        raise NotImplementedError

    def run(self, records):
        return [record for record in records if self.filter(record)]


@dataclass(frozen=True)
class Reader:
    """What a reader registers as its runtime: the slicer and the fetcher of one name."""

    slicer: type[Slicer]
    fetcher: type[Fetcher]


def load_builtins() -> None:
    """Attach the built-in operations' runtimes (imported once per process)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def runtime_of(name: str, kind: Kind, runtimes: Mapping[str, object] = MappingProxyType({})):
    """What runs the operation `name` (from `runtimes`, else the built-ins): a `Reader` for a reader, a
    `Processor` subclass for a processor."""
    if name in runtimes:
        runtime = runtimes[name]
        actual = Kind.READER if isinstance(runtime, Reader) else Kind.PROCESSOR
    else:
        load_builtins()
        operation = get_operation(name)
        runtime, actual = operation.runtime, operation.kind
    if actual != kind:
        raise Invalid(f"operation {name} is a {actual}, not a {kind}")
    if kind == Kind.READER:
        implemented = isinstance(runtime, Reader)
    else:
        implemented = isinstance(runtime, type) and issubclass(runtime, Processor)
    if not implemented:
        raise Invalid(f"operation {name} has no implementation")
    return runtime


def build_slicers(
    job_config: dict,
    context: OperationContext,
    start_points: Mapping[int, Any] | None = None,
    runtimes: Mapping[str, object] = MappingProxyType({}),
) -> list[Slicer]:
    """The slicers of an execution, ids 0..n-1: `slicers` of them for a parallel slicer, else one.

    `start_points` is None on a fresh start. When recovering it maps slicer ids to the request of their
    last completed slice (a missing id starts from the beginning); a slicer that is not recoverable
    raises `Invalid("Slicer is not recoverable")`.
    """
    op_config = job_config["operations"][0]
    reader = runtime_of(op_config["_op"], Kind.READER, runtimes)
    total = job_config.get("slicers", 1) if reader.slicer.parallel else 1
    context = replace(context, job_config=job_config)
    slicers = []
    for slicer_id in range(total):
        start = None if start_points is None else start_points.get(slicer_id)
        slicer_context = context.for_operation(op_config, slicer_id=slicer_id)
        slicer = reader.slicer(slicer_context, slicer_id, total, start)
        if start_points is not None and not slicer.is_recoverable():
            raise Invalid("Slicer is not recoverable")
        slicers.append(slicer)
    return slicers


class SliceResult(NamedTuple):
    # Records that came out of the last operation.
    count: int
    # One entry per operation, reader first: {"op", "order", "count", "time_ms"} (spec §4.7).
    analytics: list[dict]
    # Attempts made before the one that succeeded (`run_with_retries`).
    retries: int = 0


class SliceFailed(Exception):
    """A slice failed on every attempt it was allowed; `__cause__` is the last attempt's error."""

    def __init__(self, error: BaseException, retries: int):
        super().__init__(str(error))
        self.error = error
        self.retries = retries


def _defines(operation: "OperationCore", hook: str) -> bool:
    """Whether the operation's class defines `hook` (OperationCore's own do nothing)."""
    return getattr(type(operation), hook) is not getattr(OperationCore, hook)


class Pipeline:
    """A worker's fetcher and processors for one execution, built once and run for every slice."""

    # Spec §4.4: the first retry waits 100 ms, each further one twice as long.
    RETRY_DELAY = 0.1

    def __init__(self, fetcher: Fetcher, processors: list[Processor]):
        self.fetcher = fetcher
        self.processors = processors
        self.operations: list[OperationCore] = [fetcher, *processors]
        self.names = [operation.op_config.get("_op") for operation in self.operations]
        # The slice hooks the operations define: calling the base class's no-ops for every slice cost as much
        # as the rest of a one-record slice's bookkeeping.
        self.on_started = [op.on_slice_started for op in self.operations if _defines(op, "on_slice_started")]
        self.on_finished = [op.on_slice_finished for op in self.operations if _defines(op, "on_slice_finished")]

    @classmethod
    def build(
        cls, job_config: dict, context: OperationContext, runtimes: Mapping[str, object] = MappingProxyType({})
    ) -> "Pipeline":
        """Instantiate the job's operations: index 0 is the reader (its fetcher), the rest processors."""
        context = replace(context, job_config=job_config)
        reader_config, *processor_configs = job_config["operations"]
        fetcher = runtime_of(reader_config["_op"], Kind.READER, runtimes).fetcher(context.for_operation(reader_config))
        processors = [
            runtime_of(op_config["_op"], Kind.PROCESSOR, runtimes)(context.for_operation(op_config))
            for op_config in processor_configs
        ]
        return cls(fetcher, processors)

    def run(self, request: Any, slice_id: str) -> SliceResult:
        """One attempt at a slice: fetch its records and pass them through every processor.

        Errors propagate; the caller retries (`retry_allowed`) or gives up (`slice_failed`).
        """
        for hook in self.on_started:
            hook(slice_id)
        analytics = []
        records = None
        for order, operation in enumerate(self.operations):
            began = time.perf_counter()
            records = operation.fetch(request) if order == 0 else operation.run(records)
            records = records if isinstance(records, list) else list(records)
            elapsed = round((time.perf_counter() - began) * 1000, 3)
            analytics.append({"op": self.names[order], "order": order, "count": len(records), "time_ms": elapsed})
        for hook in self.on_finished:
            hook(slice_id)
        return SliceResult(len(records), analytics)

    def retry_allowed(self, slice_id: str, attempt: int) -> bool:
        """Ask every operation whether retry `attempt` (1-based) of the slice may run; any may veto."""
        return all([operation.on_slice_retry(slice_id, attempt) for operation in self.operations])

    def slice_failed(self, slice_id: str, error: BaseException) -> None:
        """Tell every operation that the slice failed for good."""
        for operation in self.operations:
            operation.on_slice_failed(slice_id, error)

    def run_with_retries(
        self, request: Any, slice_id: str, max_retries: int, sleep: Callable[[float], Any] = time.sleep
    ) -> SliceResult:
        """Run a slice with up to `max_retries` retries in this worker (spec §4.4).

        Waits 100 ms before the first retry and doubles the wait each time; `sleep` is how it waits, so
        the caller can heartbeat or notice cancellation meanwhile. Raises `SliceFailed` (with the retries
        made) once no attempt is left or an operation vetoed the retry.
        """
        delay = self.RETRY_DELAY
        retries = 0
        while True:
            try:
                result = self.run(request, slice_id)
                return result._replace(retries=retries) if retries else result
            except Exception as error:
                if retries >= max_retries or not self.retry_allowed(slice_id, retries + 1):
                    self.slice_failed(slice_id, error)
                    raise SliceFailed(error, retries) from error
                self.fetcher.logger.warning("slice %s failed, retrying: %s", slice_id, error)
                sleep(delay)
                delay *= 2
                retries += 1

    def shutdown(self) -> None:
        """Shut every operation down, even when one fails; then raise the first failure (the others are logged)."""
        errors = []
        for operation in self.operations:
            try:
                operation.shutdown()
            except Exception as error:
                if errors:
                    operation.logger.error("shutdown failed: %s", error)
                errors.append(error)
        if errors:
            raise errors[0]
