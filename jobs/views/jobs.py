"""Console pages for jobs: the list (its bulk actions are jobs/views/bulk.py), one job with its executions, and the buttons that control it.

Each button posts to a small view that calls the same service as the matching API route and declares the
same action, so the privilege table and the audit log treat the console and the API alike.
"""

import json
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse

from jobs import selectors, services
from jobs.forms import RecoverForm, StopForm, WorkersForm
from jobs.lifecycle import ExecutionStatus, JobState
from jobs.lifecycle import offered_controls as offered_controls_for
from jobs.models import Job
from jobsite import actions
from jobsite.access.privileges import may, privileges_granting
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import Invalid

JOBS_PAGE_SIZE = 50
EXECUTIONS_SHOWN = 20


class JobListView(ConsoleView):
    def get(self, request):
        chosen = job_filter(request.GET)
        page = Paginator(selectors.filtered_jobs(chosen), JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
        latest = selectors.latest_executions(job.job_id for job in page)
        rows = [(job, latest.get(job.job_id)) for job in page]
        return render(
            request,
            "jobs/jobs.html",
            {
                "page": page,
                "rows": rows,
                "filter": chosen,
                "name": chosen.name,
                "query": filter_query(chosen),
                "choices": FILTER_CHOICES,
                "bulk_actions": bulk_buttons(request),
                "max_bulk": services.MAX_BULK_JOBS,
            },
        )


FILTER_CHOICES = {
    "status": [(selectors.NEVER_RUN, "never run"), *((status, status) for status in ExecutionStatus)],
    "lifecycle": [("once", "once"), ("persistent", "persistent")],
    "state": [(state, state) for state in JobState],
    "sort": [
        ("-updated", "updated, newest first"),
        ("updated", "updated, oldest first"),
        ("-created", "created, newest first"),
        ("created", "created, oldest first"),
        ("name", "name, A to Z"),
        ("-name", "name, Z to A"),
    ],
}


def job_filter(data) -> selectors.JobFilter:
    """The list's filter from a query string or a form; values it does not know are ignored."""

    def pick(key: str) -> str:
        value = data.get(key, "")
        return value if value in dict(FILTER_CHOICES[key]) else ""

    return selectors.JobFilter(
        name=data.get("name", "").strip()[:255],
        status=pick("status"),
        lifecycle=pick("lifecycle"),
        state=pick("state"),
        sort=pick("sort") or "-updated",
    )


def filter_query(chosen: selectors.JobFilter) -> str:
    fields = {"name": chosen.name, "status": chosen.status, "lifecycle": chosen.lifecycle, "state": chosen.state}
    if chosen.sort != "-updated":
        fields["sort"] = chosen.sort
    return urlencode({key: value for key, value in fields.items() if value})


def bulk_buttons(request) -> list[dict]:
    """The bulk actions, each with whether this user may perform it and, if not, why. Empty for a user
    who may perform none of them (a monitor sees no bulk controls)."""
    buttons = [
        {
            "action": name,
            "allowed": may(request.user, action),
            "needs": " or ".join(privileges_granting(action)),
        }
        for name, action in services.BULK_ACTIONS.items()
    ]
    return buttons if any(button["allowed"] for button in buttons) else []


def offered_controls(job: Job, latest) -> frozenset[str]:
    """Which buttons make sense now: what the latest execution's status accepts (jobs.lifecycle)."""
    if job.deleted:
        return frozenset()
    return offered_controls_for(latest.status if latest else None)


class JobDetailView(ConsoleView):
    def get(self, request, job_id):
        job = services.get_job(job_id)
        executions = list(job.executions.order_by("-created")[:EXECUTIONS_SHOWN])
        latest = executions[0] if executions else None
        return render(
            request,
            "jobs/job.html",
            {
                "job": job,
                "spec_json": json.dumps(job.spec, indent=2, ensure_ascii=False),
                "latest": latest,
                "executions": executions,
                "offered": offered_controls(job, latest),
                "stop_form": StopForm(),
                "recover_form": RecoverForm(),
                "workers_form": WorkersForm(),
            },
        )


class JobControl(ConsoleAction):
    """A button on the job page; goes back to it."""

    def get_success_url(self):
        return reverse("console:job", args=[self.kwargs["job_id"]])

    def valid(self, form_class):
        form = form_class(self.request.POST)
        if not form.is_valid():
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            raise Invalid(problems)
        return form.cleaned_data

    def latest_ex_id(self, job_id) -> str:
        return services.latest_execution(job_id).ex_id


class StartView(JobControl):
    action_by_method = {"post": actions.JOBS_START}

    def perform(self, request, job_id):
        execution, _ = services.start_job(job_id, actor=self.actor())
        return f"Started execution {execution.ex_id}."


class StopView(JobControl):
    action_by_method = {"post": actions.JOBS_STOP}

    def perform(self, request, job_id):
        force = self.valid(StopForm)["force"]
        execution = services.stop_execution(self.latest_ex_id(job_id), force=force, actor=self.actor())
        return f"Execution {execution.ex_id} is {execution.status}."


class PauseView(JobControl):
    action_by_method = {"post": actions.JOBS_PAUSE}

    def perform(self, request, job_id):
        execution = services.pause_execution(self.latest_ex_id(job_id), actor=self.actor())
        return f"Execution {execution.ex_id} is paused."


class ResumeView(JobControl):
    action_by_method = {"post": actions.JOBS_RESUME}

    def perform(self, request, job_id):
        execution = services.resume_execution(self.latest_ex_id(job_id), actor=self.actor())
        return f"Execution {execution.ex_id} is running again."


class RecoverView(JobControl):
    action_by_method = {"post": actions.JOBS_RECOVER}

    def perform(self, request, job_id):
        cleanup = self.valid(RecoverForm)["cleanup_type"]
        execution, _ = services.recover_job(job_id, cleanup=cleanup, actor=self.actor())
        return f"Recovering in execution {execution.ex_id}."


class WorkersView(JobControl):
    action_by_method = {"post": actions.JOBS_WORKERS}

    def perform(self, request, job_id):
        data = self.valid(WorkersForm)
        return services.change_workers(
            self.latest_ex_id(job_id), action=data["change"], number=data["number"], actor=self.actor()
        )
