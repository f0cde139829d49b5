"""Admin for jobs, executions, their history and slices.

Status fields are read-only: only jobs/services/ changes state (DESIGN.md rule 1). Executions and
slices are created by services and the engine, so they cannot be added here, and they cannot be
deleted either: deleting an execution cascades to its slices, which the confirmation page would list
one by one, and there can be millions. Slices are only ever reached through filtered changelist links.
Jobs are started, and executions stopped, paused and resumed, by actions calling the same services as
the API, each needing the privilege the table gives that action.
"""

import json

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import format_html_join

from jobs import services
from jobs.lifecycle import SliceState
from jobs.models import Execution, ExecutionTransition, Job, Slice
from jobs.validation import job_body, validate_job
from jobsite.actions import JOBS_PAUSE, JOBS_RESUME, JOBS_START, JOBS_STOP
from jobsite.admin import (
    PrivilegedActions,
    ReadOnlyByDefault,
    ViewOnly,
    change_link,
    changelist_link,
    json_display,
    privileged_action,
)
from jobsite.errors import DomainError
from tasks.models import Node


class PrettyJSONField(forms.JSONField):
    """Edits JSON indented, so a job spec can be read and fixed by eye."""

    widget = forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"})

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class HandEdited(ReadOnlyByDefault):
    """A hand edit is still an update: `updated` (Teraslice `_updated`) moves with it."""

    def save_model(self, request, obj, form, change):
        obj.updated = timezone.now()
        super().save_model(request, obj, form, change)


class JobForm(forms.ModelForm):
    """The spec is checked as the API checks it, and errors shown on the field."""

    class Meta:
        model = Job
        fields = ["spec"]

    def clean_spec(self):
        spec = self.cleaned_data["spec"]
        if self.instance.pk and self.instance.deleted:
            raise forms.ValidationError(f"Job {self.instance.pk} has been deleted and cannot be updated.")
        if not self.instance.pk and isinstance(spec, dict) and "job_id" in spec:
            raise forms.ValidationError("Job cannot include a job_id on submit")
        deactivating = (
            self.instance.pk and self.instance.active and isinstance(spec, dict) and spec.get("active") is False
        )
        try:
            if not deactivating:
                validate_job(job_body(spec))
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return spec


@admin.register(Job)
class JobAdmin(PrivilegedActions, ReadOnlyByDefault, admin.ModelAdmin):
    """Jobs are created and changed through the same services as the API (name and `active` follow the spec)."""

    form = JobForm
    list_display = ["name", "job_id", "state", "active", "deleted", "executions", "created", "updated"]
    list_filter = ["state", "active", "deleted"]
    search_fields = ["job_id__exact", "name"]
    date_hierarchy = "created"
    ordering = ["-updated"]
    fields = [
        "job_id",
        "name",
        "spec",
        "active",
        "state",
        "executions",
        "created",
        "updated",
        "deleted",
        "deleted_on",
    ]
    editable_fields = ["spec"]
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    actions = ["start"]

    def get_fields(self, request, obj=None):
        # A new job has no id, dates or executions yet to show.
        return self.editable_fields if obj is None else self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(execution_count=Count("executions"))

    def save_model(self, request, obj, form, change):
        actor = request.user.get_username()
        spec = form.cleaned_data["spec"]
        if change:
            job, _ = services.update_job(obj.pk, spec, actor=actor)
        else:
            job, _, _ = services.submit_job(spec, start=False, actor=actor)
        obj.pk = job.pk
        obj.refresh_from_db()

    @admin.display(description="executions", ordering="execution_count")
    def executions(self, obj):
        count = obj.execution_count
        return changelist_link(Execution, f"{count} execution{pluralize(count)}", job__job_id__exact=obj.pk)

    @privileged_action(JOBS_START, "Start selected jobs", done="started")
    def start(self, request, job):
        services.start_job(job.pk, actor=request.user.get_username())


class TransitionInline(ViewOnly, admin.TabularInline):
    """The execution's timeline, oldest first. History is never edited."""

    model = ExecutionTransition
    fields = ["at", "from_status", "to_status", "actor", "reason"]
    ordering = ["at", "id"]
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Execution)
class ExecutionAdmin(PrivilegedActions, HandEdited, admin.ModelAdmin):
    list_display = ["ex_id", "name", "job_link", "status", "has_errors", "workers", "controller", "created", "updated"]
    list_filter = ["status", "has_errors", "deleted", "recovered_slice_type", "controller_node"]
    list_select_related = ["job", "controller_node"]
    search_fields = ["ex_id__exact", "job__job_id__exact", "name"]
    date_hierarchy = "created"
    ordering = ["-created"]
    inlines = [TransitionInline]
    actions = ["stop", "pause", "resume"]
    fieldsets = [
        (None, {"fields": ["ex_id", "name", "job_link", "status", "has_errors", "failure_reason"]}),
        ("Work", {"fields": ["workers", "slices", "controller", "controller_heartbeat"]}),
        ("Recovery", {"fields": ["recovered_from", "recovered_slice_type"]}),
        (
            "Data",
            {
                "classes": ["collapse"],
                "fields": [
                    "config_json",
                    "slicer_stats_json",
                    "checkpoint_json",
                    "analytics_json",
                    "metadata_json",
                ],
            },
        ),
        ("Dates", {"fields": ["created", "updated", "deleted", "deleted_on"]}),
    ]
    # Workers change live through `_workers` (API or console), which the engine follows; not here.

    config_json = json_display("config")
    slicer_stats_json = json_display("slicer_stats")
    checkpoint_json = json_display("checkpoint")
    analytics_json = json_display("analytics")
    metadata_json = json_display("metadata")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @privileged_action(JOBS_STOP, "Stop selected executions", done="stopped")
    def stop(self, request, execution):
        services.stop_execution(execution.pk, actor=request.user.get_username())

    @privileged_action(JOBS_PAUSE, "Pause selected executions", done="paused")
    def pause(self, request, execution):
        services.pause_execution(execution.pk, actor=request.user.get_username())

    @privileged_action(JOBS_RESUME, "Resume selected executions", done="resumed")
    def resume(self, request, execution):
        services.resume_execution(execution.pk, actor=request.user.get_username())

    @admin.display(description="job", ordering="job__name")
    def job_link(self, obj):
        return change_link(Job, obj.job_id, obj.job.name)

    @admin.display(description="controller", ordering="controller_node__name")
    def controller(self, obj):
        return change_link(Node, obj.controller_node_id, obj.controller_node and obj.controller_node.name)

    @admin.display(description="recovered from")
    def recovered_from(self, obj):
        return change_link(Execution, obj.recovered_execution_id)

    @admin.display(description="slices")
    def slices(self, obj):
        # One grouped count on the (execution, state, ...) index, each number linking to those slices.
        counts = dict(obj.slices.order_by().values_list("state").annotate(n=Count("id")))
        total = sum(counts.values())
        links = [changelist_link(Slice, f"{total} slice{pluralize(total)}", execution__ex_id__exact=obj.pk)]
        links += [
            changelist_link(Slice, f"{state}: {counts[state]}", execution__ex_id__exact=obj.pk, state__exact=state)
            for state in SliceState
            if state in counts
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))


@admin.register(ExecutionTransition)
class ExecutionTransitionAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["at", "execution_link", "from_status", "to_status", "actor", "reason"]
    list_filter = ["to_status", "from_status"]
    list_select_related = ["execution"]
    # Case-sensitive exact and prefix lookups, not the default icontains: the table is large.
    search_fields = ["execution__ex_id__exact", "actor__startswith"]
    # Newest first by primary key: indexed, unlike `at` on its own.
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["execution_link", "from_status", "to_status", "actor", "reason", "at"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="execution", ordering="execution")
    def execution_link(self, obj):
        return change_link(Execution, obj.execution_id, obj.execution)


class SliceForm(forms.ModelForm):
    """The admin makes it for Slice with its `editable_fields`."""

    def clean_error(self):
        error = self.cleaned_data["error"]
        # An error record is found, listed and counted by its text (the `slice_errors` index): a blank one
        # would leave the error lists and be counted completed.
        if self.instance.state == SliceState.ERROR and not error.strip():
            raise forms.ValidationError("A slice that failed keeps an error text: say why it failed.")
        return error


@admin.register(Slice)
class SliceAdmin(HandEdited, admin.ModelAdmin):
    form = SliceForm
    list_display = [
        "slice_id",
        "execution_link",
        "slicer_id",
        "slicer_order",
        "state",
        "retry_count",
        "holder",
        "updated",
    ]
    # No execution filter: it would list every execution. Execution pages link to their slices instead.
    list_filter = ["state"]
    list_select_related = ["execution"]
    # Case-sensitive exact lookups, not the default icontains: the table is large.
    search_fields = ["slice_id__exact", "execution__ex_id__exact"]
    # Newest first by primary key; the model's (slicer_id, slicer_order) has no index across executions.
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "slice_id",
        "execution_link",
        "slicer_id",
        "slicer_order",
        "state",
        "request_json",
        "error",
        "retry_count",
        "holder",
        "created",
        "updated",
    ]
    editable_fields = ["error", "retry_count"]

    request_json = json_display("request")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="execution", ordering="execution")
    def execution_link(self, obj):
        return change_link(Execution, obj.execution_id, obj.execution)
