"""Jobs, executions, slices and the execution history.

Field names follow the Teraslice JSON (`job_id`, `ex_id`, `slicer_order`...); the underscore-prefixed
JSON fields (`_created`, `_status`...) are plain names here and mapped by the serializers.
Only jobs/services/ writes status fields.
"""

import os
import uuid
from datetime import timedelta

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.db import models
from django.utils import timezone

from jobs.lifecycle import LIVING, TERMINAL, ExecutionStatus, JobState, SliceState
from jobsite.conf import conf


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` ids such as new_id makes (random uuid4s as text), from one read of the system's randomness: the
    controller names thousands of slices a second, and uuid.uuid4() each cost it 4.5 µs against 1.2."""
    digits = os.urandom(16 * count).hex()
    ids = []
    for at in range(0, 32 * count, 32):
        d = digits[at : at + 32]
        # The version digit is 4 and the variant's two high bits are 10, as in every uuid4.
        ids.append(f"{d[:8]}-{d[8:12]}-4{d[13:16]}-{'89ab'[int(d[16], 16) & 3]}{d[17:20]}-{d[20:]}")
    return ids


class JobQuerySet(models.QuerySet):
    def not_deleted(self):
        return self.filter(deleted=False)


class Job(models.Model):
    job_id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=255, help_text="Copied from the spec, for listing and sorting.")
    spec = models.JSONField(help_text="The job exactly as submitted (without job_id and _created/_updated).")
    active = models.BooleanField(default=True)
    state = models.CharField(
        max_length=16, choices=JobState, default=JobState.OPENED, help_text="Open/closed state (close API)."
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now)
    deleted = models.BooleanField(default=False, help_text="Soft-deleted: hidden from lists, still readable.")
    deleted_on = models.DateTimeField(null=True, blank=True)
    # Set by a close that took its snapshot; the next start resumes after it (and clears it).
    snapshot_execution = models.ForeignKey(
        "Execution",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The closed execution whose checkpoint the next start resumes from.",
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-updated"]
        indexes = [
            models.Index(fields=["-updated"], name="job_updated"),
            models.Index(fields=["name"], name="job_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deleted=False) | models.Q(deleted_on__isnull=False),
                name="job_deleted_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.job_id})"


class ExecutionQuerySet(models.QuerySet):
    def not_deleted(self):
        return self.filter(deleted=False)

    def living(self):
        return self.filter(status__in=LIVING)

    def latest_for(self, job):
        return self.filter(job=job).order_by("-created").first()

    def using_asset(self, asset_id: str):
        return self.filter(asset_ids__contains=[asset_id])

    def with_live_controller(self):
        """Held by a controller that heartbeated within the node timeout (`services.controller_alive`)."""
        silence = timedelta(seconds=conf.node_timeout_seconds)
        return self.filter(controller_node__isnull=False, controller_heartbeat__gte=timezone.now() - silence)


class RecoveryType(models.TextChoices):
    ALL = "all"
    ERRORS = "errors"
    PENDING = "pending"


class Execution(models.Model):
    ex_id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="executions")
    name = models.CharField(max_length=255, help_text="The job name at the time the execution was created.")
    config = models.JSONField(help_text="The validated job config with defaults filled in.")
    status = models.CharField(max_length=16, choices=ExecutionStatus, default=ExecutionStatus.PENDING)
    has_errors = models.BooleanField(default=False)
    failure_reason = models.TextField(blank=True)
    slicer_stats = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    workers = models.PositiveIntegerField(help_text="Worker loops wanted now; `_workers` changes it live.")
    allotted_workers = models.PositiveIntegerField(
        null=True, blank=True, help_text="Worker loops the scheduler gives it now (its share of the slots)."
    )
    scheduling_reason = models.CharField(max_length=255, blank=True, help_text="Why it waits for slots, while it does.")
    recovered_execution = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="recoveries"
    )
    recovered_slice_type = models.CharField(max_length=8, choices=RecoveryType, blank=True)
    checkpoint = models.JSONField(
        default=dict, blank=True, help_text="Per slicer: last completed request and slicer state (for resume)."
    )
    analytics = models.JSONField(default=dict, blank=True, help_text="Per-operation counts and times.")
    # No database constraint: a node row may be removed (stale) while history still names it.
    controller_node = models.ForeignKey(
        "tasks.Node",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="controlled_executions",
    )
    controller_heartbeat = models.DateTimeField(null=True, blank=True)
    controller_token = models.CharField(
        max_length=32, blank=True, help_text="Names the one controller holding the lease; a stale one sees it changed."
    )
    # The config's resolved `assets`, as a column so that deleting an asset can find who uses it.
    asset_ids = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, help_text="Ids of the assets its operations use."
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now)
    deleted = models.BooleanField(default=False)
    deleted_on = models.DateTimeField(null=True, blank=True)

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            # A job's executions newest first; with the status, a job's latest status is read from the index
            # alone (the jobs list's status filter asks it of every job it looks at).
            models.Index(fields=["job", "-created"], include=["status"], name="ex_job_created_status"),
            models.Index(fields=["job", "status"], name="ex_job_status"),
            models.Index(fields=["status", "-updated"], name="ex_status_updated"),
            models.Index(fields=["-updated"], name="ex_updated"),
            # Who uses an asset (the delete guard, the assets page): `asset_ids @>` / `&&` without a scan.
            GinIndex(fields=["asset_ids"], name="ex_asset_ids"),
        ]
        constraints = [
            # The database itself guarantees one living execution per job, whatever races above it.
            models.UniqueConstraint(
                fields=["job"], condition=models.Q(status__in=sorted(LIVING)), name="one_living_execution_per_job"
            ),
            models.CheckConstraint(condition=models.Q(workers__gte=1), name="ex_workers_positive"),
        ]

    def __str__(self):
        return f"{self.name} {self.ex_id} [{self.status}]"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class ExecutionTransition(models.Model):
    """One status change of an execution: the timeline Teraslice users asked for (#654)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=ExecutionStatus, blank=True)
    to_status = models.CharField(max_length=16, choices=ExecutionStatus)
    actor = models.CharField(max_length=255, help_text="A user name, or `engine@<node>` for the engine.")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["execution", "at"], name="transition_ex_at")]

    def __str__(self):
        return f"{self.execution_id}: {self.from_status or '∅'} → {self.to_status}"


class SliceQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=SliceState.PENDING)

    def in_hand(self):
        """Claimed by a worker and being processed."""
        return self.filter(state=SliceState.START)

    def errors(self):
        """Error records: slices that failed for good (each says why, which is what their index holds)."""
        return self.filter(state=SliceState.ERROR).exclude(error="")


class Slice(models.Model):
    """A unit of work: written `pending` by the controller, claimed by a worker loop, then finished.

    Claims and completions change only columns no index covers (state, holder, updated), so PostgreSQL
    updates the row in place (a HOT update: no new index entries; the table keeps free room in each page
    for it). What the engine looks slices up by while they are unfinished is in SliceWork, the small table
    a slice leaves when it finishes. `state` stays the slice's truth; services keep the two in step."""

    slice_id = models.CharField(max_length=64, default=new_id, editable=False)
    # No index of its own: every index below starts with the execution, and each index on this table is
    # written on every slice insert. No foreign key in the database either: its check was a lookup per slice
    # written (17% of the controller's PostgreSQL CPU, perf), and executions are never deleted (deleting is a
    # flag; the admin refuses). services.add_slices locks the execution's row once per batch instead.
    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="slices", db_index=False, db_constraint=False
    )
    slicer_id = models.PositiveIntegerField()
    slicer_order = models.PositiveIntegerField()
    request = models.JSONField()
    state = models.CharField(max_length=16, choices=SliceState, default=SliceState.PENDING)
    error = models.TextField(blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=255, blank=True, help_text="The worker holding the slice.")
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now)

    objects = SliceQuerySet.as_manager()

    class Meta:
        ordering = ["slicer_id", "slicer_order"]
        # slice_id is a uuid4 made when the slice is cut (a recovered slice keeps its own in the new execution,
        # with its slicer_id and order, so the order constraint already refuses a second copy): no unique index
        # on it, whose 36-character keys were about a fifth of the WAL each slice writes.
        constraints = [
            # Each request is cut once, even if a stale controller wakes up and slices again.
            models.UniqueConstraint(
                fields=["execution", "slicer_id", "slicer_order"], name="slice_order_per_execution"
            ),
        ]
        indexes = [
            # The execution page's throughput chart: finished slices by time. BRIN is a summarizing index,
            # which PostgreSQL 16+ keeps up without giving up HOT updates; rows are written in time order.
            BrinIndex(fields=["updated"], name="slice_updated_brin"),
            # Error records (the error lists): an error text is written only when a slice fails for good,
            # never by a claim or a completion.
            models.Index(fields=["execution"], condition=~models.Q(error=""), name="slice_errors"),
        ]

    def __str__(self):
        return f"slice {self.slice_id} [{self.state}]"


class SliceWorkQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(holder="")

    def in_hand(self):
        return self.exclude(holder="")


class SliceWork(models.Model):
    """An unfinished slice (pending or in hand) as the engine finds it: the oldest pending of an execution,
    a holder's slices, leases gone silent. Written with the slice, deleted when it finishes, so the table
    holds the look-ahead and the slices in hand, not the history. Only jobs/services/slices.py writes it."""

    # No foreign key in the database: a work row is written from its slice's row in the same statement
    # (services.add_slices, copy_for_recovery), and its check cost a lookup per slice on the path the workers
    # wait on. Deleting slices through the ORM deletes their work rows (on_delete).
    slice = models.OneToOneField(
        Slice, on_delete=models.CASCADE, primary_key=True, related_name="work", db_constraint=False
    )
    # The claim's order; its index starts with the execution. No constraint of its own: the slice's already
    # holds, and each would be one more lookup per slice written.
    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    slicer_order = models.PositiveIntegerField()
    holder = models.CharField(max_length=255, blank=True, help_text="The worker holding the slice; empty: pending.")
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the holder.")

    objects = SliceWorkQuerySet.as_manager()

    class Meta:
        indexes = [
            # Not partial on the holder: a claim then changes no indexed column and stays a HOT update.
            models.Index(fields=["execution", "slicer_order", "slice"], name="slicework_order"),
        ]

    def __str__(self):
        return f"work of slice {self.slice_id} [{self.holder or 'pending'}]"
