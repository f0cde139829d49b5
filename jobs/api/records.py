"""The JSON records of jobs, executions and slice errors, shaped as Teraslice stores them."""

import json

import jobsite
from jobs.lifecycle import LIVING
from jobs.models import Execution, ExecutionTransition, Job, Slice
from jobs.selectors import ListedJob
from jobs.stats import slicer_stats
from jobsite.dates import iso


def _with_set(record: dict, **optional) -> dict:
    """`record` plus those of `optional` that are set: Teraslice leaves unset ones out of the record."""
    record.update((key, value) for key, value in optional.items() if value)
    return record


def job_record(job: Job) -> dict:
    return _job_record(
        job.spec,
        job.job_id,
        job.active,
        job.state,
        iso(job.created),
        iso(job.updated),
        job.deleted,
        iso(job.deleted_on),
    )


def listed_job_record(job: ListedJob) -> dict:
    """The same record, of a job as the lists read it (its dates already written)."""
    return _job_record(
        job.spec, job.job_id, job.active, job.state, job.created, job.updated, job.deleted, job.deleted_on
    )


def _job_record(spec, job_id, active, state, created, updated, deleted, deleted_on) -> dict:
    record = {
        **spec,
        "job_id": job_id,
        "active": active,
        "state": state,
        "_context": "job",
        "_created": created,
        "_updated": updated,
        "_deleted": deleted,
    }
    return _with_set(record, _deleted_on=deleted_on)


def execution_record(execution: Execution) -> dict:
    record = {
        **execution.config,
        "job_id": execution.job_id,
        "ex_id": execution.ex_id,
        "metadata": execution.metadata,
        "_context": "ex",
        "_status": execution.status,
        "_created": iso(execution.created),
        "_updated": iso(execution.updated),
        "_has_errors": execution.has_errors,
        "_slicer_stats": execution.slicer_stats,
        "_failureReason": execution.failure_reason,
        "_deleted": execution.deleted,
        "teraslice_version": f"v{jobsite.__version__}",
    }
    return _with_set(
        record,
        recovered_execution=execution.recovered_execution_id,
        recovered_slice_type=execution.recovered_slice_type,
        _deleted_on=iso(execution.deleted_on),
        # Beyond Teraslice: why a living execution waits for slots, while it does.
        _scheduling_reason=execution.scheduling_reason if execution.status in LIVING else "",
    )


def slice_record(slice_: Slice) -> dict:
    """A slice state record; `request` is a JSON string, as Teraslice stores it."""
    record = {
        "slice_id": slice_.slice_id,
        "slicer_id": slice_.slicer_id,
        "slicer_order": slice_.slicer_order,
        "request": json.dumps(slice_.request),
        "state": slice_.state,
        "ex_id": slice_.execution_id,
        "_created": iso(slice_.created),
        "_updated": iso(slice_.updated),
    }
    return _with_set(record, error=slice_.error, retry_count=slice_.retry_count)


def transition_record(transition: ExecutionTransition) -> dict:
    return {
        "from": transition.from_status or None,
        "to": transition.to_status,
        "at": iso(transition.at),
        "actor": transition.actor,
        "reason": transition.reason,
    }


def controller_record(execution: Execution) -> dict:
    """Controller stats (spec §3.6) of a running execution, from its `_slicer_stats`."""
    stats = slicer_stats(slicers=execution.config.get("slicers", 1), started=iso(execution.created))
    stats.update(execution.slicer_stats or {})
    return {"ex_id": execution.ex_id, "job_id": execution.job_id, "name": execution.name, **stats}


def project(record: dict, fields: list[str]) -> dict:
    return {field: record[field] for field in fields if field in record}
