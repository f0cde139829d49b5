"""Use cases on jobs, executions and slices: the only code that changes their state (DESIGN.md rule 1).

Split by what each module owns: `jobs` (the stored specs), `starting` (creating executions: start,
recover), `executions` (the state machine, stop, pause, resume, `_workers`, what cancelling their tasks
means), `closing` (close and open, and the steps of the close housekeeping; `close_tasks` begins a
close), `rollup` (a job as an idempotent indexer), `bulk` (one action on many jobs, each on its own), `leases` (the one controller holding an execution),
`placement` (which loops run on which node's slots), `slices` (pending → start → completed | error, and
their leases), and the `lookups` they share. Callers use the names below as `jobs.services.<name>`.
"""

from jobs.services.bulk import BULK_ACTIONS, MAX_BULK_JOBS, Outcome, act_on_jobs, check_bulk_size
from jobs.services.closing import (
    MAX_JOBS,
    close_jobs,
    close_outcome,
    closing_execution,
    fail_abandoned_closes,
    fail_close,
    finish_close,
    open_jobs,
    resolve_jobs,
    resolve_one_job,
    take_snapshot,
)
from jobs.services.executions import (
    WORKER_PARAMETER_MESSAGE,
    cancel_execution_task,
    change_workers,
    max_workers,
    pause_execution,
    record_final_results,
    remove_cancelled_worker,
    resume_execution,
    set_execution_status,
    stop_execution,
    take_step,
    terminate_execution,
)
from jobs.services.jobs import delete_job, set_job_active, submit_job, update_job
from jobs.services.leases import claim_execution, heartbeat_controller, release_controller
from jobs.services.lookups import controller_alive, describe, engine_actor, get_execution, get_job, latest_execution
from jobs.services.placement import WORKERS_CEILING, NodeSlots, cluster_slots, place, slots_by_node
from jobs.services.rollup import start_indexer, stop_indexer
from jobs.services.slices import (
    add_slices,
    claim_slices,
    complete_and_claim,
    copy_for_recovery,
    finish_slice,
    heartbeat_slices,
    pending_slice_count,
    prune_slices,
    release_expired_slices,
    requeue_slices_in_hand,
    slice_counts,
    slices_channel,
)
from jobs.services.starting import recover_execution, recover_job, start_job

__all__ = [
    "BULK_ACTIONS",
    "MAX_BULK_JOBS",
    "Outcome",
    "act_on_jobs",
    "check_bulk_size",
    "MAX_JOBS",
    "close_jobs",
    "close_outcome",
    "closing_execution",
    "fail_abandoned_closes",
    "fail_close",
    "finish_close",
    "open_jobs",
    "pending_slice_count",
    "resolve_jobs",
    "resolve_one_job",
    "take_snapshot",
    "record_final_results",
    "terminate_execution",
    "prune_slices",
    "WORKERS_CEILING",
    "cluster_slots",
    "slots_by_node",
    "NodeSlots",
    "place",
    "max_workers",
    "WORKER_PARAMETER_MESSAGE",
    "add_slices",
    "cancel_execution_task",
    "change_workers",
    "claim_execution",
    "claim_slices",
    "complete_and_claim",
    "controller_alive",
    "copy_for_recovery",
    "delete_job",
    "describe",
    "engine_actor",
    "finish_slice",
    "get_execution",
    "get_job",
    "heartbeat_controller",
    "heartbeat_slices",
    "latest_execution",
    "pause_execution",
    "recover_execution",
    "recover_job",
    "release_controller",
    "release_expired_slices",
    "remove_cancelled_worker",
    "requeue_slices_in_hand",
    "resume_execution",
    "set_execution_status",
    "set_job_active",
    "slice_counts",
    "slices_channel",
    "start_indexer",
    "start_job",
    "stop_indexer",
    "stop_execution",
    "submit_job",
    "take_step",
    "update_job",
]
