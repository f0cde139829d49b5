"""The console's front page: the nodes, the living executions with their progress and throughput, and the
counts (executions by status, failures of the last 24 hours, queue depths, scheduling waits).

The page renders everything; its three live parts poll this same view for their own partial (`?part=`
with htmx's `HX-Request` header), each computing only what it shows. The living executions' poll sends
back what the page showed last (a hidden `sample` field): the difference is the throughput since then.
"""

import time

from django.shortcuts import render

from jobs import overview
from jobsite.console import ConsoleView

SAMPLE_LIMIT = 4096  # characters of the sample a poll sends back (LIVING_SHOWN rows need ~2,500)


def polled_part(request, parts) -> str | None:
    """The partial an htmx poll asks for; None for the whole page."""
    part = request.GET.get("part", "")
    return part if request.headers.get("HX-Request") and part in parts else None


def sample_of(rows: list[overview.Living]) -> str:
    """What the page shows now, for the next poll: `<epoch seconds>;<ex_id>=<processed>;...`."""
    return ";".join([f"{time.time():.3f}", *(f"{row.progress.ex_id}={row.progress.processed}" for row in rows)])


def parse_sample(raw: str) -> tuple[dict[str, int] | None, float | None]:
    """The processed counts a poll sent back and how many seconds ago they were shown; (None, None) for a
    missing or malformed sample (the page then shows the average rate only)."""
    at, _, rest = raw[:SAMPLE_LIMIT].partition(";")
    try:
        seconds = time.time() - float(at)
    except ValueError:
        return None, None
    previous = {}
    for item in rest.split(";"):
        ex_id, equals, processed = item.partition("=")
        if equals and processed.isdigit():
            previous[ex_id] = int(processed)
    return previous, seconds


def living_context(request) -> dict:
    rows = overview.living(*parse_sample(request.GET.get("sample", "")))
    return {"living": rows, "sample": sample_of(rows), "living_shown": overview.LIVING_SHOWN}


PARTS = {
    "nodes": ("jobs/_overview_nodes.html", lambda request: {"nodes": overview.nodes()}),
    "living": ("jobs/_overview_living.html", living_context),
    "counts": ("jobs/_overview_counts.html", lambda request: {"counts": overview.counts()}),
}


class OverviewView(ConsoleView):
    def get(self, request):
        part = polled_part(request, PARTS)
        if part is not None:
            template, context_of = PARTS[part]
            return render(request, template, context_of(request))
        context = {}
        for _, context_of in PARTS.values():
            context.update(context_of(request))
        return render(request, "jobs/overview.html", context)
