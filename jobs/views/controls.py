"""The buttons of the job page and the execution page, one set for both.

The execution buttons (stop, pause, resume, recover, workers) act on one execution: the job's latest one
when posted to a job's URL (`/console/jobs/<job_id>/stop`), the given one when posted to an execution's
(`/console/ex/<ex_id>/stop`). Each calls the same service as the matching API route under the same action,
so the privilege table and the audit log treat the console and the API alike, and goes back to the page
it came from. The job's own buttons (start, close, open) are in jobs/views/job.py on the same base.

Which buttons a page offers comes from jobs.lifecycle (offered_job_controls: the execution's status and
the job's open/closed state), and of those the page shows the ones the user's privileges allow. The
destructive ones (stop, close) ask first: with scripts a <dialog> drawn beside the button says what will
happen (static/js/confirm.js); without, the post answers with a page saying the same, whose form posts
again with `confirmed`.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html

from jobs import execution_page, services
from jobs.forms import RecoverForm, StopForm, WorkersForm
from jobs.lifecycle import TERMINAL, offered_job_controls
from jobsite import actions
from jobsite.access.privileges import may, privileges_granting
from jobsite.console import ConsoleAction
from jobsite.errors import DomainError, Invalid

# The buttons that act on an execution; the others (start, close, force_close, open) act on the job.
EXECUTION_CONTROLS = frozenset({"stop", "pause", "resume", "recover", "workers"})
CONTROL_ACTIONS = {
    "start": actions.JOBS_START,
    "pause": actions.JOBS_PAUSE,
    "resume": actions.JOBS_RESUME,
    "stop": actions.JOBS_STOP,
    "recover": actions.JOBS_RECOVER,
    "workers": actions.JOBS_WORKERS,
    "close": actions.JOBS_CLOSE,
    "force_close": actions.JOBS_CLOSE,
    "open": actions.JOBS_OPEN,
}


# --- what the destructive buttons will do (said by the dialog and by the confirmation page alike) --------


def stop_outcome(force: bool) -> str:
    if force:
        return "It ends stopped at once; the slices its workers hold go back to pending."
    return "Its workers finish the slices they hold, then it ends stopped."


def stop_title(execution, force: bool) -> str:
    return f"{'Force stop' if force else 'Stop'} execution {execution.ex_id}?"


def close_outcome(living, force: bool) -> str:
    if force:
        ends = f"Execution {living.ex_id} ends terminated at once. " if living else ""
        return f"{ends}The job is closed without a snapshot: its next start begins anew."
    stops = f"stops execution {living.ex_id}, " if living else ""
    return (
        f"A worker node runs the close as a task: it {stops}flushes, writes final results, takes a "
        "snapshot and prunes, then the job is closed. Reopened, its next start resumes after the snapshot."
    )


def close_title(job, force: bool) -> str:
    return f"{'Force close' if force else 'Close'} job {job.name}?"


# --- what a page offers --------------------------------------------------------------------------------


def offered_for_job(job, latest) -> frozenset[str]:
    """The job page's buttons: what the latest execution's status accepts, and close or open as the job's
    open/closed state allows. A deleted job offers none."""
    if job.deleted:
        return frozenset()
    return offered_job_controls(job.state, latest.status if latest else None)


def offered_for_execution(execution) -> frozenset[str]:
    """The execution page's buttons: the execution buttons the job page would offer were this execution
    its latest (so a job that is not opened offers none of them), less recover while another execution of
    the job lives (the service refuses a second living execution)."""
    job = execution.job
    if job.deleted:
        return frozenset()
    offered = offered_job_controls(job.state, execution.status) & EXECUTION_CONTROLS
    if "recover" in offered and execution_page.living_execution_of(job.job_id) is not None:
        offered -= {"recover"}
    return offered


def controls_context(request, job, execution, offered: frozenset[str], *, page: str) -> dict:
    """What templates/jobs/_controls.html draws: `page` is "job" (buttons post to the job's URLs and act on
    its latest execution, `execution`) or "ex" (they post to the execution's URLs)."""
    key = job.job_id if page == "job" else execution.ex_id
    shown = {name for name in offered if may(request.user, CONTROL_ACTIONS[name])}
    refused = sorted(offered - shown)
    living = execution if execution is not None and execution.status not in TERMINAL else None
    urls = {name: reverse(f"console:{page}-{name.replace('force_', '')}", args=[key]) for name in shown}
    return {
        "page": page,
        "noun": "job" if page == "job" else "execution",
        "job": job,
        "execution": execution,
        "offered": offered,
        "shown": shown,
        "refused": [
            {"name": name.replace("_", " "), "privileges": privileges_granting(CONTROL_ACTIONS[name])}
            for name in refused
        ],
        "urls": urls,
        "dialogs": confirm_dialogs(page, job, execution, living, shown, urls),
        "stop_form": StopForm(),
        "recover_form": RecoverForm(),
        "workers_form": WorkersForm(),
    }


def confirm_dialogs(page: str, job, execution, living, shown: set[str], urls: dict) -> list[dict]:
    """The <dialog>s the stop and close buttons open (templates/jobs/_confirm_dialog.html): what each will do,
    gracefully or forced, said as the confirmation page says it."""
    dialogs = []
    if "stop" in shown:
        dialogs.append(
            {
                "id": f"{page}-stop-dialog",
                "url": urls["stop"],
                "titles": {"graceful": stop_title(execution, False), "force": stop_title(execution, True)},
                "about": format_html(
                    "Execution <code>{}</code> ({}) of job <strong>{}</strong> <code>{}</code>.",
                    execution.ex_id,
                    execution.status,
                    job.name,
                    job.job_id,
                ),
                "outcomes": {"graceful": stop_outcome(False), "force": stop_outcome(True)},
                "verbs": {"graceful": "Stop", "force": "Force stop"},
                "keep": "Keep it running",
            }
        )
    if "close" in shown or "force_close" in shown:
        running = format_html(", its execution <code>{}</code> {}", living.ex_id, living.status) if living else ""
        dialogs.append(
            {
                "id": f"{page}-close-dialog",
                "url": urls.get("close") or urls["force_close"],
                "titles": {"graceful": close_title(job, False), "force": close_title(job, True)},
                "about": format_html("Job <strong>{}</strong> <code>{}</code>{}.", job.name, job.job_id, running),
                "outcomes": {"graceful": close_outcome(living, False), "force": close_outcome(living, True)},
                "verbs": {"graceful": "Close", "force": "Force close"},
                "keep": "Keep it open",
            }
        )
    return dialogs


# --- the buttons ---------------------------------------------------------------------------------------


class Control(ConsoleAction):
    """A button on the job page or the execution page; goes back to the page it was on (the URL says which:
    a job's or an execution's). A `destructive` one first answers with a page saying what will happen
    (`confirmation`), whose form posts again with `confirmed`."""

    destructive = False

    def post(self, request, *args, **kwargs):
        if self.destructive and not request.POST.get("confirmed"):
            try:
                what = self.confirmation(request)
            except DomainError as error:
                messages.error(request, error.message)
                return redirect(self.get_success_url())
            request._audit_action = None  # asking changes nothing: the audit records the confirmed post
            context = {**what, "post": request.POST, "action": request.path, "back": self.get_success_url()}
            return render(request, "jobs/job_confirm.html", context)
        return super().post(request, *args, **kwargs)

    def confirmation(self, request) -> dict:
        raise NotImplementedError

    def get_success_url(self):
        if "ex_id" in self.kwargs:
            return reverse("console:execution", args=[self.kwargs["ex_id"]])
        return reverse("console:job", args=[self.kwargs["job_id"]])

    def valid(self, form_class):
        form = form_class(self.request.POST)
        if not form.is_valid():
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            raise Invalid(problems)
        return form.cleaned_data


class ExecutionControl(Control):
    """A button that acts on an execution: the one in the URL, or the latest of the job in the URL."""

    def perform(self, request, **kwargs) -> str:
        return self.act(self.kwargs["ex_id"] if "ex_id" in self.kwargs else self.target().ex_id)

    def target(self):
        if "ex_id" in self.kwargs:
            return services.get_execution(self.kwargs["ex_id"])
        return services.latest_execution(self.kwargs["job_id"])

    def act(self, ex_id: str) -> str:
        raise NotImplementedError


class StopView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_STOP}
    destructive = True

    def confirmation(self, request):
        force = self.valid(StopForm)["force"]
        execution = self.target()
        return {
            "job": execution.job,
            "title": stop_title(execution, force),
            "execution": execution,
            "outcome": stop_outcome(force),
            "button": "Force stop" if force else "Stop",
        }

    def act(self, ex_id):
        execution = services.stop_execution(ex_id, force=self.valid(StopForm)["force"], actor=self.actor())
        return f"Execution {execution.ex_id} is {execution.status}."


class PauseView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_PAUSE}

    def act(self, ex_id):
        return f"Execution {services.pause_execution(ex_id, actor=self.actor()).ex_id} is paused."


class ResumeView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_RESUME}

    def act(self, ex_id):
        return f"Execution {services.resume_execution(ex_id, actor=self.actor()).ex_id} is running again."


class RecoverView(ExecutionControl):
    """From the job page: recover the job's latest execution with the job's current config, as
    `POST /v1/jobs/<id>/_recover`; back to the job page. From an execution's page: recover that execution
    with its own config, as `POST /v1/ex/<id>/_recover`; on to the new execution's page."""

    action_by_method = {"post": actions.JOBS_RECOVER}
    recovery = None

    def perform(self, request, **kwargs):
        cleanup = self.valid(RecoverForm)["cleanup_type"]
        if "ex_id" in self.kwargs:
            ex_id = self.kwargs["ex_id"]
            self.recovery = services.recover_execution(ex_id, cleanup=cleanup, actor=self.actor())
            return f"Recovering execution {ex_id} in execution {self.recovery.ex_id}."
        execution, _ = services.recover_job(self.kwargs["job_id"], cleanup=cleanup, actor=self.actor())
        return f"Recovering in execution {execution.ex_id}."

    def get_success_url(self):
        if self.recovery is not None:
            return reverse("console:execution", args=[self.recovery.ex_id])
        return super().get_success_url()


class WorkersView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_WORKERS}

    def act(self, ex_id):
        data = self.valid(WorkersForm)
        return services.change_workers(ex_id, action=data["change"], number=data["number"], actor=self.actor())
