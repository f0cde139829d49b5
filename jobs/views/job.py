"""Console page for one job: its spec in an editor, every execution (paged), the latest one's status
(live) and errors, its open/closed state, and the buttons that control it.

Saving the editor calls the service behind `PUT /v1/jobs/<id>` (services.update_job) under the same
action; a JSON syntax error or a validation error is shown next to the editor with the text kept, and
nothing is saved. The buttons are jobs/views/controls.py's, shared with the execution page (those that
act on an execution act on the job's latest one here); start, close and open, the job's own, are here.
"""

import json
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse

from jobs import execution_page, selectors, services
from jobs.lifecycle import TERMINAL, JobState
from jobs.models import Job
from jobs.views.controls import Control, close_outcome, close_title, controls_context, offered_for_job
from jobsite import actions
from jobsite.console import ConsoleView
from jobsite.errors import DomainError, Invalid

EXECUTIONS_PER_PAGE = 20
ERRORS_SHOWN = 5
SPEC_ROWS_MAX = 40

# Teraslice's validation messages: "Validation failed for operation config: noop - size: ...; other: ...".
FAILED_PART = re.compile(r"Validation failed for (job|api|operation) config: (.*?) - (.*)\Z", re.DOTALL)
FIELD_PROBLEM = re.compile(r"([\w\[\].@-]+): (.*)\Z", re.DOTALL)


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


def save_edited_spec(text: str, save, page):
    """The spec editor's save, on the job page and the new job page: the text parsed as JSON and handed to
    `save` (a service call, which validates before it writes). Returns (what `save` returned, None), or
    (None, the page drawn again by `page(spec_text=..., status=..., syntax_error=... or problems=...)`) when
    the text is not JSON or the service refused it: the text is kept and nothing was saved."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        syntax = {"line": error.lineno, "column": error.colno, "message": error.msg}
        return None, page(spec_text=text, syntax_error=syntax, status=400)
    try:
        return save(spec), None
    except DomainError as error:
        problems = spec_problems(error.message) if isinstance(error, Invalid) else [{"message": error.message}]
        return None, page(spec_text=text, problems=problems, status=error.status_code)


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
        saved, refused = save_edited_spec(
            request.POST.get("spec", ""),
            lambda spec: services.update_job(job_id, spec, actor=self.actor(), headers=None),
            lambda **editor: self.page(request, job, **editor),
        )
        if refused is not None:
            return refused
        job, _ = saved
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
        context["polled"] = True  # the executions table's row of the latest execution is redrawn too
        return render(request, "jobs/_job_live.html", context)

    def live_context(self, job, latest) -> dict:
        offered = offered_for_job(job, latest)
        processed, total = execution_page.execution_progress(latest) if latest else (0, None)
        return {
            "progress": {
                "processed": processed,
                "total": total,
                "percent": 100 * processed // total if total else None,
            },
            "job": job,
            "latest": latest,
            "live": is_live(job, latest),
            "shown": f"{latest.status if latest else ''}/{job.state}",
            "offered": offered,
            "controls": controls_context(self.request, job, latest, offered, page="job"),
            "closing_task": selectors.running_close(job.job_id) if job.state == JobState.CLOSING else None,
        }


class StartView(Control):
    action_by_method = {"post": actions.JOBS_START}

    def perform(self, request, job_id):
        execution, _ = services.start_job(job_id, actor=self.actor())
        return f"Started execution {execution.ex_id}."


class CloseView(Control):
    """Close the job as `POST /v1/jobs/<id>/_close` does (services.close_jobs), without waiting: a
    graceful close runs as a task on a worker node; a forced one ends the living execution at once."""

    action_by_method = {"post": actions.JOBS_CLOSE}
    destructive = True

    def force(self) -> bool:
        return self.request.POST.get("force") in ("on", "true", "1")

    def confirmation(self, request):
        job = services.get_job(self.kwargs["job_id"])
        living = execution_page.living_execution_of(job.job_id)
        return {
            "job": job,
            "title": close_title(job, self.force()),
            "execution": living,
            "outcome": close_outcome(living, self.force()),
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


class OpenView(Control):
    """Reopen the job as `POST /v1/jobs/<id>/_open` does (services.open_jobs)."""

    action_by_method = {"post": actions.JOBS_OPEN}

    def perform(self, request, job_id):
        job = services.get_job(job_id)
        services.open_jobs([job], actor=self.actor())
        return f"Job {job_id} is open: it may start again."
