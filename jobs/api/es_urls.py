"""The Elasticsearch faces of jobs (spec/jobsite.md §3-4): ML close/open/stats and rollup stop/start/get,
each also under `/_xpack`."""

from jobs.api import ml, rollup
from jobsite.api.elasticsearch import es_path

JOB = r"(?P<job_id>[^/]+)"

ML_JOBS = r"(?P<job_id>[^/]+)"  # an id expression: ids, names, comma lists, wildcards, _all

urlpatterns = [
    *es_path(f"ml/anomaly_detectors/{ML_JOBS}/_close", ml.CloseView.as_view(), "ml-close"),
    *es_path(f"ml/anomaly_detectors/{ML_JOBS}/_open", ml.OpenView.as_view(), "ml-open"),
    *es_path(f"ml/anomaly_detectors/{ML_JOBS}/_stats", ml.StatsView.as_view(), "ml-stats"),
    *es_path("ml/anomaly_detectors/_stats", ml.StatsView.as_view(), "ml-stats-all"),
    *es_path(f"rollup/job/{JOB}/_stop", rollup.RollupStopView.as_view(), "rollup-stop"),
    *es_path(f"rollup/job/{JOB}/_start", rollup.RollupStartView.as_view(), "rollup-start"),
    *es_path(f"rollup/job/{JOB}", rollup.RollupJobsView.as_view(), "rollup-job"),
    *es_path("rollup/job", rollup.RollupJobsView.as_view(), "rollup-jobs"),
]
