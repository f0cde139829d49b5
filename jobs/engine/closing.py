"""The close housekeeping of a job (spec/jobsite.md §3), run by a worker node's control queue.

Phases, each reported in the close task's status: closing; flush (the living execution stops
gracefully: slices in flight finish, or time out and go back to pending); final results (written here
if no controller wrote them); snapshot (the checkpoint a later start resumes after); prune (old
executions' slice records, error records kept); closed. Every change goes through jobs.services; a
force close that overtakes this one ends its task, and this housekeeping then gives up.
"""

import logging
import time

from django.db import close_old_connections
from django.utils import timezone

from jobs import services
from jobs.engine.stats import execution_stats
from jobs.lifecycle import TERMINAL
from jobs.models import Execution, SliceState
from jobsite.conf import conf
from jobsite.dates import iso
from tasks import registry
from tasks.nodes import this_node_id

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
PRUNE_BATCH = 2000


class GivenUp(Exception):
    """The close task ended under us (a force close took over)."""


def run_close(job_id: str, task_pk: int) -> str:
    """The close placed as task `task_pk`; a redelivered or duplicate start does nothing."""
    close_old_connections()
    task = registry.take(task_pk, any_node=True)
    if task is None:
        return "not wanted"
    try:
        Close(job_id, task_pk).run()
        return "closed"
    except GivenUp:
        return "given up"
    except Exception as error:
        log.exception("close of job %s failed", job_id)
        services.fail_close(job_id, task_pk, {"type": type(error).__name__, "reason": str(error)})
        return "failed"


class Close:
    def __init__(self, job_id: str, task_pk: int):
        self.job_id = job_id
        self.task_pk = task_pk
        self.actor = services.engine_actor(this_node_id())
        self.phase = "closing"

    def report(self, phase: str | None = None, **progress) -> None:
        """Say where the close is; give up if its task ended (a force close)."""
        if not registry.still_wanted(self.task_pk):
            raise GivenUp
        self.phase = phase or self.phase
        registry.report(self.task_pk, {"phase": self.phase, "job_id": self.job_id, **progress})

    def run(self) -> None:
        self.report("closing")
        execution = services.closing_execution(self.job_id)
        self.report("flush")
        if execution is not None:
            execution = self.flush(execution)
        self.report("final_results")
        if execution is not None:
            execution = self.final_results(execution)
        self.report("snapshot")
        snapshot = services.take_snapshot(self.job_id, execution.ex_id) if execution is not None else None
        self.report("prune")
        pruned = self.prune()
        result = {
            "closed": True,
            "job_id": self.job_id,
            "ex_id": execution.ex_id if execution else None,
            "status": execution.status if execution else None,
            "snapshot": snapshot,
            "pruned_slices": pruned,
        }
        if not services.finish_close(self.job_id, self.task_pk, result):
            raise GivenUp

    def flush(self, execution: Execution) -> Execution:
        """A graceful stop, waited for. The controller forces it after JOBSITE_STOP_TIMEOUT_SECONDS and the
        reaper ends one whose controller died; past both, the close forces it itself."""
        if execution.status not in TERMINAL:
            services.stop_execution(execution.ex_id, actor=self.actor)
        deadline = time.monotonic() + conf.stop_timeout_seconds + 2 * conf.node_timeout_seconds + 10
        while True:
            execution = Execution.objects.get(pk=execution.ex_id)
            if execution.status in TERMINAL:
                return execution
            if time.monotonic() > deadline:
                log.warning("close of job %s: the stop of %s did not drain; forcing it", self.job_id, execution.ex_id)
                services.stop_execution(execution.ex_id, force=True, actor=self.actor)
            self.report(ex_id=execution.ex_id, status=execution.status)
            time.sleep(POLL_SECONDS)

    def final_results(self, execution: Execution) -> Execution:
        """`_slicer_stats` with `job_duration`, and `_has_errors`, for an execution whose controller did not
        write them (it never had one, or it ended forced)."""
        if "job_duration" in execution.slicer_stats:
            return execution
        counts = services.slice_counts(execution.ex_id)
        checkpoint = execution.checkpoint
        stats = execution_stats(
            execution.ex_id,
            counts,
            alive=0,
            slicers=int(execution.config.get("slicers", 1)),
            started=checkpoint.get("started") or iso(execution.created),
            checkpoint=checkpoint,
        )
        ended = execution.updated or timezone.now()
        stats["job_duration"] = max(1, round((ended - execution.created).total_seconds()))
        return services.record_final_results(
            execution.ex_id, slicer_stats=stats, has_errors=bool(counts[SliceState.ERROR])
        )

    def prune(self) -> int:
        spare = services.get_job(self.job_id).snapshot_execution_id
        pruned = 0
        while True:
            deleted = services.prune_slices(self.job_id, keep=conf.slice_retention, spare=spare, limit=PRUNE_BATCH)
            if not deleted:
                return pruned
            pruned += deleted
            self.report(pruned_slices=pruned)
