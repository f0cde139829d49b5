"""The console's execution page: its counters, progress, throughput chart, workers, errors and history,
and the buttons that act on this execution (not the job's latest one), each calling the same service as
the matching `/v1/ex/<ex_id>/...` route under the same action.

The live part (counters, progress, chart, workers) is re-rendered for htmx's polling by the same view
(an `HX-Request`): it polls while the execution lives and no longer once it has ended. When the status
has changed since the page was drawn, the answer also carries the status line, the buttons and the
history, swapped out of band.
"""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse

from jobs import execution_page, services
from jobs.forms import RecoverForm, StopForm, WorkersForm
from jobs.lifecycle import offered_controls
from jobs.views.charts import throughput_chart
from jobs.views.job import JobControl
from jobsite import actions
from jobsite.console import ConsoleView


def execution_controls(execution) -> frozenset[str]:
    """The buttons that make sense for this execution now (jobs.lifecycle); starting is the job's."""
    if execution.job.deleted:
        return frozenset()
    return offered_controls(execution.status) - {"start"}


class ExecutionView(ConsoleView):
    def get(self, request, ex_id):
        overview = execution_page.execution_overview(ex_id)
        execution = overview.execution
        context = {
            "overview": overview,
            "execution": execution,
            "chart": throughput_chart(overview.throughput),
            "shown": request.GET.get("shown", ""),
        }
        if request.headers.get("HX-Request"):
            if context["shown"] != execution.status:
                context.update(self.status_context(execution), oob=True)
            return render(request, "jobs/_execution_live.html", context)
        text = request.GET.get("q", "").strip()
        errors = Paginator(execution_page.execution_errors(execution, text), execution_page.ERRORS_PER_PAGE)
        context.update(
            self.status_context(execution),
            errors=errors.get_page(request.GET.get("page")),
            error_filter=text,
            errors_paged=execution_page.ERRORS_PAGED,
            query=urlencode({"q": text}) if text else "",
        )
        return render(request, "jobs/execution.html", context)

    def status_context(self, execution) -> dict:
        history, older = execution_page.execution_history(execution)
        return {
            "offered": execution_controls(execution),
            "history": history,
            "older_history": older,
            "stop_form": StopForm(),
            "recover_form": RecoverForm(),
            "workers_form": WorkersForm(),
        }


class ExecutionControl(JobControl):
    """A button on the execution page; acts on that execution and goes back to its page."""

    def get_success_url(self):
        return reverse("console:execution", args=[self.kwargs["ex_id"]])


class StopView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_STOP}

    def perform(self, request, ex_id):
        force = self.valid(StopForm)["force"]
        execution = services.stop_execution(ex_id, force=force, actor=self.actor())
        return f"Execution {execution.ex_id} is {execution.status}."


class PauseView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_PAUSE}

    def perform(self, request, ex_id):
        return f"Execution {services.pause_execution(ex_id, actor=self.actor()).ex_id} is paused."


class ResumeView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_RESUME}

    def perform(self, request, ex_id):
        return f"Execution {services.resume_execution(ex_id, actor=self.actor()).ex_id} is running again."


class RecoverView(ExecutionControl):
    """Recovers this execution with its own config; goes to the new execution's page."""

    action_by_method = {"post": actions.JOBS_RECOVER}
    recovery = None

    def perform(self, request, ex_id):
        cleanup = self.valid(RecoverForm)["cleanup_type"]
        self.recovery = services.recover_execution(ex_id, cleanup=cleanup, actor=self.actor())
        return f"Recovering execution {ex_id} in execution {self.recovery.ex_id}."

    def get_success_url(self):
        if self.recovery is not None:
            return reverse("console:execution", args=[self.recovery.ex_id])
        return super().get_success_url()


class WorkersView(ExecutionControl):
    action_by_method = {"post": actions.JOBS_WORKERS}

    def perform(self, request, ex_id):
        data = self.valid(WorkersForm)
        return services.change_workers(ex_id, action=data["change"], number=data["number"], actor=self.actor())
