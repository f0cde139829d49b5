"""Console page for the jobs list: filtered, sorted and paged on the server; its bulk actions are
jobs/views/bulk.py.
One job's page and the buttons that control it are in jobs/views/job.py.
"""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render

from jobs import selectors, services
from jobs.lifecycle import ExecutionStatus, JobState
from jobsite.access.privileges import may, privileges_granting
from jobsite.console import ConsoleView

JOBS_PAGE_SIZE = 50
# Filtered by latest status, the list counts at most this many matches (each costs a lookup): the pages
# stop there, and the page says so.
JOBS_COUNTED = services.MAX_BULK_JOBS  # 1,000


class JobListView(ConsoleView):
    def get(self, request):
        chosen = job_filter(request.GET)
        jobs = selectors.filtered_jobs(chosen)
        if chosen.status:
            paginator = selectors.CappedPaginator(jobs, JOBS_PAGE_SIZE, cap=JOBS_COUNTED)
        else:
            paginator = Paginator(jobs, JOBS_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
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
