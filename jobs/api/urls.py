"""Job and execution routes. Teraslice (Express) tolerates a trailing slash and ignores the case of
paths, so every pattern does too."""

from jobs.api import closing, cluster, views
from jobsite.api.routes import re_path_any_case

ID = r"(?P<{}>[^/]+)"
JOB = "^jobs/" + ID.format("job_id")
EX = "^ex/" + ID.format("ex_id")


def route(pattern: str, view, name: str):
    return re_path_any_case(pattern + "/?$", view, name=name)


def on_both(suffix: str, view, name: str):
    """An action on a job's latest execution and on a given execution."""
    return [route(f"{JOB}/{suffix}", view, f"job-{name}"), route(f"{EX}/{suffix}", view, f"ex-{name}")]


urlpatterns = [
    route("^jobs", views.JobsView.as_view(), "jobs"),
    route(JOB, views.JobView.as_view(), "job"),
    route(f"{JOB}/ex", views.JobLatestExecutionView.as_view(), "job-ex"),
    route(f"{JOB}/executions", views.JobExecutionsView.as_view(), "job-executions"),
    route(f"{JOB}/errors", views.JobErrorsView.as_view(), "job-errors"),
    route(f"{JOB}/_start", views.JobStartView.as_view(), "job-start"),
    route(f"{JOB}/_recover", views.JobRecoverView.as_view(), "job-recover"),
    route(f"{JOB}/_active", views.JobActiveView.as_view(active=True), "job-active"),
    route(f"{JOB}/_inactive", views.JobActiveView.as_view(active=False), "job-inactive"),
    route(f"{JOB}/_close", closing.CloseView.as_view(), "job-close"),
    route(f"{JOB}/_open", closing.OpenView.as_view(), "job-open"),
    *on_both("_stop", views.StopView.as_view(), "stop"),
    *on_both("_pause", views.PauseView.as_view(resume=False), "pause"),
    *on_both("_resume", views.PauseView.as_view(resume=True), "resume"),
    *on_both("_workers", views.WorkersView.as_view(), "workers"),
    *on_both("controller", views.ControllerView.as_view(), "controller"),
    *on_both("slicer", views.ControllerView.as_view(), "slicer"),
    route("^ex", views.ExecutionsView.as_view(), "executions"),
    route("^ex/errors", views.AllErrorsView.as_view(), "all-errors"),  # before ex/<ex_id>
    route(EX, views.ExecutionView.as_view(), "execution"),
    route(f"{EX}/errors", views.ExecutionErrorsView.as_view(), "ex-errors"),
    route(f"{EX}/_recover", views.ExecutionRecoverView.as_view(), "ex-recover"),
    route(f"{EX}/history", views.ExecutionHistoryView.as_view(), "ex-history"),
    route("^cluster/state", cluster.ClusterStateView.as_view(), "cluster-state"),
    route("^cluster/stats", cluster.ClusterStatsView.as_view(), "cluster-stats"),
    route("^cluster/controllers", cluster.ControllersView.as_view(), "cluster-controllers"),
    route("^cluster/slicers", cluster.ControllersView.as_view(), "cluster-slicers"),
]

# Text tables are mounted at the root only (`/v1/txt/...` is a 405 in Teraslice).
txt_urlpatterns = [
    route("^txt/jobs", views.TxtJobsView.as_view(), "txt-jobs"),
    route("^txt/ex", views.TxtExecutionsView.as_view(), "txt-ex"),
    route("^txt/nodes", cluster.TxtNodesView.as_view(), "txt-nodes"),
    route("^txt/workers", cluster.TxtWorkersView.as_view(), "txt-workers"),
    route("^txt/controllers", cluster.TxtControllersView.as_view(), "txt-controllers"),
    route("^txt/slicers", cluster.TxtControllersView.as_view(), "txt-slicers"),
]
