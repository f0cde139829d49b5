"""Builds an execution's operations (jobs/ops) for the engine's controller and workers.

Operations from the execution's assets are loaded here, on the worker node (never on the web server):
validation named each one either `op@<asset id>` or by a plain name found in exactly one of the
execution's assets; a plain name that is built in stays the built-in (spec §2.2).
"""

import logging

from assets.loading import BundleOperation, operations_of
from jobs.models import Execution
from jobs.ops.api import OperationContext, Pipeline, Reader, load_builtins
from jobs.ops.api import build_slicers as build_op_slicers
from jobs.ops.registry import Kind, is_registered


def _context(execution: Execution, **identity) -> OperationContext:
    logger = logging.getLogger(f"jobs.ops.{execution.ex_id[:8]}")
    return OperationContext(ex_id=execution.ex_id, job_config=execution.config, logger=logger, **identity)


def asset_runtimes(execution: Execution, op_configs: list[dict]) -> dict[str, object]:
    """The runtimes of those of `op_configs` that come from the execution's assets, by their `_op`."""
    runtimes = {}
    for op_config in op_configs:
        name = op_config["_op"]
        base, at, asset_id = name.partition("@")
        if not at:
            if is_registered(name):
                continue
            asset_id = next((id_ for id_ in execution.asset_ids if name in operations_of(id_)), None)
            if asset_id is None:
                continue  # the operation API reports the unknown operation
        runtimes[name] = _runtime(operations_of(asset_id)[base])
    return runtimes


def _runtime(operation: BundleOperation) -> object:
    """What the operation API runs for a bundle's operation: its `Processor` class, or a reader's
    `Slicer` and `Fetcher` classes."""
    if operation.kind == Kind.READER:
        return Reader(slicer=operation.module.Slicer, fetcher=operation.module.Fetcher)
    return operation.module.Processor


def build_pipeline(execution: Execution, *, worker_id: str) -> Pipeline:
    runtimes = asset_runtimes(execution, execution.config["operations"])
    return Pipeline.build(execution.config, _context(execution, worker_id=worker_id), runtimes)


def build_slicers(execution: Execution, *, start_points: dict | None):
    """`start_points` None: a fresh start; a mapping (even empty): continuing after earlier slices."""
    runtimes = asset_runtimes(execution, execution.config["operations"][:1])
    return build_op_slicers(execution.config, _context(execution), start_points, runtimes)


def preload() -> None:
    """What every pipeline and slicer of built-in operations needs, loaded ahead of the first one (the
    data generator alone builds its value pools for ~0.1 s on import)."""
    load_builtins()
