"""Console page for one job with its executions, and the buttons that control it.

Each button posts to a small view that calls the same service as the matching API route and declares the
same action, so the privilege table and the audit log treat the console and the API alike.
"""

import json

from django.shortcuts import render
from django.urls import reverse

from jobs import services
from jobs.forms import RecoverForm, StopForm, WorkersForm
from jobs.lifecycle import offered_controls as offered_controls_for
from jobs.models import Job
from jobsite import actions
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import Invalid

EXECUTIONS_SHOWN = 20


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
