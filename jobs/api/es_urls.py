"""The Elasticsearch faces of jobs (spec/jobsite.md §3-4): ML close/open/stats and rollup stop/start/get,
each also under `/_xpack`."""

from jobs.api import rollup
from jobsite.api.elasticsearch import es_path

JOB = r"(?P<job_id>[^/]+)"

urlpatterns = [
    *es_path(f"rollup/job/{JOB}/_stop", rollup.RollupStopView.as_view(), "rollup-stop"),
    *es_path(f"rollup/job/{JOB}/_start", rollup.RollupStartView.as_view(), "rollup-start"),
    *es_path(f"rollup/job/{JOB}", rollup.RollupJobsView.as_view(), "rollup-job"),
    *es_path("rollup/job", rollup.RollupEveryJobView.as_view(), "rollup-jobs"),
]
