"""Console page for the jobs list.

One job's page and the buttons that control it are in jobs/views/job.py.
"""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render

from jobs import selectors
from jobs.models import Job
from jobsite.console import ConsoleView

JOBS_PAGE_SIZE = 50


class JobListView(ConsoleView):
    def get(self, request):
        jobs = Job.objects.not_deleted().order_by("-updated", "job_id")
        name = request.GET.get("name", "").strip()
        if name:
            jobs = jobs.filter(name__icontains=name)
        page = Paginator(jobs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
        latest = selectors.latest_executions(job.job_id for job in page)
        rows = [(job, latest.get(job.job_id)) for job in page]
        return render(
            request,
            "jobs/jobs.html",
            {
                "page": page,
                "rows": rows,
                "name": name,
                "query": urlencode({"name": name}) if name else "",
            },
        )
