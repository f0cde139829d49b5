"""Console page for one job: its spec in an editor, every execution (paged), the latest one's status
(live) and errors, its open/closed state, and the buttons that control it.

Saving the editor calls the service behind `PUT /v1/jobs/<id>` (services.update_job) under the same
action; a JSON syntax error or a validation error is shown next to the editor with the text kept, and
nothing is saved. Each button posts to a small view that calls the same service as the matching API
route and declares the same action, so the privilege table and the audit log treat the console and the
API alike. Which buttons are offered comes from jobs.lifecycle (the latest execution's status and the
job's open/closed state). Destructive ones (stop, close) first answer with a page saying what will
happen, and act only once that page's form is posted.
"""

import json
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse

from jobs import selectors, services
from jobs.forms import RecoverForm, StopForm, WorkersForm
from jobs.lifecycle import TERMINAL, JobState, offered_job_controls
from jobs.models import Job
from jobsite import actions
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import DomainError, Invalid

EXECUTIONS_PER_PAGE = 20
ERRORS_SHOWN = 5
SPEC_ROWS_MAX = 40

# Teraslice's validation messages: "Validation failed for operation config: noop - size: ...; other: ...".
FAILED_PART = re.compile(r"Validation failed for (job|api|operation) config: (.*?) - (.*)\Z", re.DOTALL)
FIELD_PROBLEM = re.compile(r"([\w\[\].@-]+): (.*)\Z", re.DOTALL)


def offered_controls(job: Job, latest) -> frozenset[str]:
    """Which buttons make sense now (jobs.lifecycle): what the latest execution's status accepts, and
    close or open as the job's open/closed state allows. A deleted job offers none."""
    if job.deleted:
        return frozenset()
    return offered_job_controls(job.state, latest.status if latest else None)


def spec_problems(message: str) -> list[dict]:
    """A validation message as a list of problems, each naming where (the job, an api or an operation)
    and the field when the message names one."""
    where, details = "", message
    failed = FAILED_PART.match(message)
    if failed:
        part, name, details = failed.groups()
        where = "job" if part == "job" else f"{part} {name}"
    problems = []
    for item in details.split("; "):
        field = FIELD_PROBLEM.match(item)
        if field:
            problems.append({"where": where, "field": field.group(1), "message": field.group(2)})
        else:
            problems.append({"where": where, "field": "", "message": item})
    return problems


def is_live(job: Job, latest) -> bool:
    """Whether the live part polls: the latest execution lives, or the job is closing."""
    return job.state == JobState.CLOSING or (latest is not None and latest.status not in TERMINAL)


class JobDetailView(ConsoleView):
    action_by_method = {"post": actions.JOBS_UPDATE}

    def get(self, request, job_id):
        job = services.get_job(job_id)
        if request.headers.get("HX-Request"):
            return self.live(request, job)
        return self.page(request, job, spec_text=json.dumps(job.spec, indent=2, ensure_ascii=False))

    def post(self, request, job_id):
        """Save the editor's text as the job's spec, or show why not (nothing saved) with the text kept."""
        job = services.get_job(job_id)
        text = request.POST.get("spec", "")
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as error:
            syntax = {"line": error.lineno, "column": error.colno, "message": error.msg}
            return self.page(request, job, spec_text=text, syntax_error=syntax, status=400)
        try:
            job, _ = services.update_job(job_id, spec, actor=self.actor(), headers=None)
        except DomainError as error:
            request._audit_status = error.status_code
            problems = spec_problems(error.message) if isinstance(error, Invalid) else [{"message": error.message}]
            return self.page(request, job, spec_text=text, problems=problems, status=error.status_code)
        messages.success(
            request, f"Saved the spec of job {job.job_id}. Nothing was started: the next execution runs it."
        )
        return redirect(reverse("console:job", args=[job.job_id]) + "#spec")

    def page(self, request, job, *, spec_text, status=200, **editor):
        executions = Paginator(selectors.executions_of(job.job_id), EXECUTIONS_PER_PAGE)
        latest = selectors.latest_executions([job.job_id]).get(job.job_id)
        context = self.live_context(job, latest)
        context.update(
            executions=executions.get_page(request.GET.get("page")),
            errors=selectors.newest_errors(latest, ERRORS_SHOWN) if latest else [],
            errors_shown=ERRORS_SHOWN,
            spec_text=spec_text,
            spec_rows=min(max(spec_text.count("\n") + 2, 8), SPEC_ROWS_MAX),
            **editor,
        )
        return render(request, "jobs/job.html", context, status=status)

    def live(self, request, job):
        """The polled part: the latest execution's status and progress, and the job's state; the buttons
        too, out of band, when what they depend on changed since the page was drawn."""
        latest = selectors.latest_executions([job.job_id]).get(job.job_id)
        context = self.live_context(job, latest)
        context["oob"] = request.GET.get("shown", "") != context["shown"]
        return render(request, "jobs/_job_live.html", context)

    def live_context(self, job, latest) -> dict:
        return {
            "job": job,
            "latest": latest,
            "live": is_live(job, latest),
            "shown": f"{latest.status if latest else ''}/{job.state}",
            "offered": offered_controls(job, latest),
            "closing_task": selectors.running_close(job.job_id) if job.state == JobState.CLOSING else None,
            "stop_form": StopForm(),
            "recover_form": RecoverForm(),
            "workers_form": WorkersForm(),
        }


class JobControl(ConsoleAction):
    """A button on the job page; goes back to it. A `destructive` one first answers with a page saying
    what will happen (`confirmation`), whose form posts again with `confirmed`."""

    destructive = False

    def post(self, request, *args, **kwargs):
        if self.destructive and not request.POST.get("confirmed"):
            try:
                what = self.confirmation(request, **kwargs)
            except DomainError as error:
                messages.error(request, error.message)
                return redirect(self.get_success_url())
            request._audit_action = None  # asking changes nothing: the audit records the confirmed post
            return render(request, "jobs/job_confirm.html", {**what, "post": request.POST, "action": request.path})
        return super().post(request, *args, **kwargs)

    def confirmation(self, request, **kwargs) -> dict:
        raise NotImplementedError

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
    destructive = True

    def confirmation(self, request, job_id):
        force = self.valid(StopForm)["force"]
        execution = services.latest_execution(job_id)
        if force:
            outcome = "It ends stopped at once; the slices its workers hold go back to pending."
        else:
            outcome = "Its workers finish the slices they hold, then it ends stopped."
        return {
            "job": services.get_job(job_id),
            "title": f"{'Force stop' if force else 'Stop'} execution {execution.ex_id}?",
            "execution": execution,
            "outcome": outcome,
            "button": "Force stop" if force else "Stop",
        }

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


class CloseView(JobControl):
    """Close the job as `POST /v1/jobs/<id>/_close` does (services.close_jobs), without waiting: a
    graceful close runs as a task on a worker node; a forced one ends the living execution at once."""

    action_by_method = {"post": actions.JOBS_CLOSE}
    destructive = True

    def force(self) -> bool:
        return self.request.POST.get("force") in ("on", "true", "1")

    def confirmation(self, request, job_id):
        job = services.get_job(job_id)
        living = job.executions.living().order_by("-created").first()
        if self.force():
            ends = f"Execution {living.ex_id} ends terminated at once. " if living else ""
            outcome = f"{ends}The job is closed without a snapshot: its next start begins anew."
        else:
            stops = f"stops execution {living.ex_id}, " if living else ""
            outcome = (
                f"A worker node runs the close as a task: it {stops}flushes, writes final results, takes a "
                "snapshot and prunes, then the job is closed. Reopened, its next start resumes after the snapshot."
            )
        return {
            "job": job,
            "title": f"{'Force close' if self.force() else 'Close'} job {job.name}?",
            "execution": living,
            "outcome": outcome,
            "button": "Force close" if self.force() else "Close",
        }

    def perform(self, request, job_id):
        job = services.get_job(job_id)
        tasks = services.close_jobs([job], force=self.force(), actor=self.actor())
        if not tasks:
            return f"Job {job_id} was closed already."
        if self.force():
            return f"Job {job_id} is closed (forced)."
        return f"Job {job_id} is closing: a worker node runs the close as task {tasks[0].task_id}."


class OpenView(JobControl):
    """Reopen the job as `POST /v1/jobs/<id>/_open` does (services.open_jobs)."""

    action_by_method = {"post": actions.JOBS_OPEN}

    def perform(self, request, job_id):
        job = services.get_job(job_id)
        services.open_jobs([job], actor=self.actor())
        return f"Job {job_id} is open: it may start again."
