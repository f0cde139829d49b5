"""Console page for a new job: a JSON spec editor, prefilled with a small job that validates, saved through
the service behind `POST /v1/jobs` (services.submit_job) under the same action.

"Save" stores the job (`?start=false`); "Save and start" stores it and creates its first execution, as
Teraslice's `POST /jobs` does by default. A JSON syntax error or a validation error is shown beside the
editor, field by field, with the text kept, and nothing is stored: submit_job validates first and writes
the job and its execution in one transaction.
"""

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from jobs import services
from jobs.views.job import save_edited_spec
from jobsite import actions
from jobsite.console import ConsoleView

EXAMPLE = {
    "name": "example-job",
    "lifecycle": "once",
    "workers": 1,
    "operations": [{"_op": "data_generator", "size": 1000}, {"_op": "noop"}],
}
SPEC_ROWS = 18


class NewJobView(ConsoleView):
    action_by_method = {"post": actions.JOBS_SUBMIT}

    def get(self, request):
        return self.page(request, spec_text=json.dumps(EXAMPLE, indent=2))

    def post(self, request):
        start = "start" in request.POST
        saved, refused = save_edited_spec(
            request.POST.get("spec", ""),
            lambda spec: services.submit_job(spec, start=start, actor=self.actor()),
            lambda **editor: self.page(request, **editor),
        )
        if refused is not None:
            return refused
        job, execution, warnings = saved
        request._audit_target = job.job_id
        if execution is not None:
            messages.success(request, f"Created job {job.name} and started execution {execution.ex_id}.")
        else:
            messages.success(request, f"Created job {job.name}. Nothing was started: use Start to run it.")
        for warning in warnings:
            messages.warning(request, warning)
        return redirect(reverse("console:job", args=[job.job_id]))

    def page(self, request, *, spec_text, status=200, **editor):
        context = {"spec_text": spec_text, "spec_rows": max(spec_text.count("\n") + 2, SPEC_ROWS), **editor}
        return render(request, "jobs/job_new.html", context, status=status)
