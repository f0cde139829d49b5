"""Builds an execution's operations (jobs/ops) for the engine's controller and workers."""

import logging

from jobs.models import Execution
from jobs.ops.api import OperationContext, Pipeline
from jobs.ops.api import build_slicers as build_op_slicers


def _context(execution: Execution, **identity) -> OperationContext:
    logger = logging.getLogger(f"jobs.ops.{execution.ex_id[:8]}")
    return OperationContext(ex_id=execution.ex_id, job_config=execution.config, logger=logger, **identity)


def build_pipeline(execution: Execution, *, worker_id: str) -> Pipeline:
    return Pipeline.build(execution.config, _context(execution, worker_id=worker_id))


def build_slicers(execution: Execution, *, start_points: dict | None):
    """`start_points` None: a fresh start; a mapping (even empty): continuing after earlier slices."""
    return build_op_slicers(execution.config, _context(execution), start_points)
