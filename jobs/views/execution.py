"""The console's execution page: its counters, progress, throughput chart, workers, errors and history,
and the buttons that act on this execution (not the job's latest one): jobs/views/controls.py's, posted to
this execution's URLs, so each calls the same service as the matching `/v1/ex/<ex_id>/...` route.

The live part (counters, progress, chart, workers) is re-rendered for htmx's polling by the same view
(an `HX-Request`): it polls while the execution lives and no longer once it has ended. The errors table
polls a small view of its own (ExecutionErrorsView), keeping its filter and page. When the status
has changed since the page was drawn, the answer also carries the status line, the buttons and the
history, swapped out of band; once it has ended, the errors table too (its filter and page come along
with each poll), so every part stops polling at the same moment.
"""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render

from jobs import execution_page, services
from jobs.views.charts import throughput_chart
from jobs.views.controls import controls_context, offered_for_execution
from jobsite.console import ConsoleView


def errors_context(request, execution) -> dict:
    """The errors table: filtered by `q`, paged by `page`, capped at ERRORS_PAGED (said in its notice)."""
    text = request.GET.get("q", "").strip()
    errors = Paginator(execution_page.execution_errors(execution, text), execution_page.ERRORS_PER_PAGE)
    page = errors.get_page(request.GET.get("page"))
    query = urlencode({"q": text}) if text else ""
    return {
        "errors": page,
        "error_filter": text,
        "errors_paged": execution_page.ERRORS_PAGED,
        "query": query,
        # What the table's polling asks for: the same filter and page.
        "errors_query": urlencode({**({"q": text} if text else {}), "page": page.number}),
    }


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
                if execution.is_terminal:  # the errors table's last state, so that its polling ends now too
                    context.update(errors_context(request, execution), errors_oob=True)
            return render(request, "jobs/_execution_live.html", context)
        context.update(**self.status_context(execution), **errors_context(request, execution))
        return render(request, "jobs/execution.html", context)

    def status_context(self, execution) -> dict:
        history, older = execution_page.execution_history(execution)
        offered = offered_for_execution(execution)
        return {
            "controls": controls_context(self.request, execution.job, execution, offered, page="ex"),
            "history": history,
            "older_history": older,
        }


class ExecutionErrorsView(ConsoleView):
    """The errors table alone (its notice, rows and pager), which the page polls while the execution lives;
    drawn without the trigger once it has ended, so the polling stops."""

    def get(self, request, ex_id):
        execution = services.get_execution(ex_id)
        return render(
            request, "jobs/_execution_errors_live.html", {"execution": execution, **errors_context(request, execution)}
        )
