"""The jobs list's bulk actions: a confirmation page saying what will happen, the action, and its report.

One route per action (`/console/jobs/bulk/<action>`), each declaring that action, so the privilege table
guards the POST and the audit log names it, as it does for a single job's button. The selection is
either the jobs ticked on the list or "all matching the filter"; the filter is applied again when the
action is posted, and a selection above MAX_BULK_JOBS is refused. The POST acts, keeps the per-job
report in the session and redirects to it (POST/redirect/GET).

Audit: one entry per bulk request (the action, "<n> jobs" as its target, 200 when every job did as
asked, 409 when any refused); each job's own change is recorded as a task by its service, as always.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from jobs import selectors, services
from jobs.models import Job
from jobs.views.jobs import filter_query, job_filter
from jobsite.access.privileges import may, refusal
from jobsite.console import ConsoleView
from jobsite.errors import Invalid

SHOWN = 50  # jobs the confirmation names; the rest are counted
REPORT_KEY = "jobs_bulk_report"
DONE = {"start": "started", "stop": "stopped", "close": "closed", "open": "opened", "delete": "deleted"}


@dataclass
class Selection:
    filter: selectors.JobFilter
    all_matching: bool
    job_ids: list[str] = field(default_factory=list)

    def describe(self) -> str:
        count = len(self.job_ids)
        jobs = f"{count} job{'s' if count != 1 else ''}"
        if self.all_matching:
            described = self.filter.describe()
            return f"{jobs} matching {described}" if described else f"all {jobs}"
        return f"{jobs} chosen on the list"


def selection_of(data) -> Selection:
    """Which jobs a bulk form names: the ticked ones, or every live job the filter matches now."""
    chosen = job_filter(data)
    if data.get("all") == "1":
        ids = list(selectors.filtered_jobs(chosen).values_list("job_id", flat=True)[: services.MAX_BULK_JOBS + 1])
        selection = Selection(chosen, True, ids)
    else:
        ticked = list(dict.fromkeys(data.getlist("job")))[: services.MAX_BULK_JOBS + 1]
        selection = Selection(chosen, False, ticked)
    if len(selection.job_ids) > services.MAX_BULK_JOBS:
        raise Invalid(
            f"More than {services.MAX_BULK_JOBS} jobs match; a bulk action acts on at most "
            f"{services.MAX_BULK_JOBS}. Narrow the filter."
        )
    if not selection.job_ids:
        raise Invalid("No jobs chosen: tick some jobs, or choose all jobs matching the filter.")
    return selection


class BulkView(ConsoleView):
    """GET: the confirmation; POST: the action (its privilege checked by `action_by_method`)."""

    bulk_action = ""

    def back(self, data):
        query = filter_query(job_filter(data))
        return redirect(reverse("console:jobs") + (f"?{query}" if query else ""))

    def get(self, request):
        try:
            selection = selection_of(request.GET)
        except Invalid as error:
            messages.error(request, error.message)
            return self.back(request.GET)
        action = services.BULK_ACTIONS[self.bulk_action]
        shown = Job.objects.filter(pk__in=selection.job_ids[:SHOWN]).order_by("name", "job_id")
        return render(
            request,
            "jobs/bulk_confirm.html",
            {
                "verb": self.bulk_action,
                "selection": selection,
                "described": selection.describe(),
                "shown": shown,
                "more": max(0, len(selection.job_ids) - SHOWN),
                "allowed": may(request.user, action),
                "refusal": refusal(request.user, action),
                "query": filter_query(selection.filter),
                "hidden": hidden_fields(selection),
            },
        )

    def post(self, request):
        try:
            selection = selection_of(request.POST)
        except Invalid as error:
            request._audit_status = error.status_code
            messages.error(request, error.message)
            return self.back(request.POST)
        outcomes = services.act_on_jobs(self.bulk_action, selection.job_ids, actor=self.actor())
        refused = sum(not outcome.ok for outcome in outcomes)
        request._audit_target = f"{len(outcomes)} jobs"
        request._audit_status = 409 if refused else 200
        request.session[REPORT_KEY] = {
            "verb": self.bulk_action,
            "described": selection.describe(),
            "query": filter_query(selection.filter),
            "outcomes": [asdict(outcome) for outcome in outcomes],
        }
        return redirect("console:jobs-bulk-report")


def hidden_fields(selection: Selection) -> list[tuple[str, str]]:
    """What the confirmation posts back: the filter, and "all" or the ticked job ids."""
    fields = list(_filter_fields(selection.filter))
    if selection.all_matching:
        return [*fields, ("all", "1")]
    return [*fields, *(("job", job_id) for job_id in selection.job_ids)]


def _filter_fields(chosen: selectors.JobFilter):
    for key in ("name", "status", "lifecycle", "state", "sort"):
        value = getattr(chosen, key)
        if value:
            yield key, value


class BulkReportView(ConsoleView):
    """What the last bulk action did, job by job (kept in the session until the next one)."""

    def get(self, request):
        report = request.session.get(REPORT_KEY)
        if not report:
            return redirect("console:jobs")
        outcomes = report["outcomes"]
        done = sum(outcome["ok"] for outcome in outcomes)
        refused = len(outcomes) - done
        summary = f"{done} {DONE[report['verb']]}" + (f", {refused} refused" if refused else "")
        return render(
            request,
            "jobs/bulk_report.html",
            {**report, "summary": summary, "refused": refused},
        )
