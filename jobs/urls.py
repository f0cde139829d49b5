"""Console routes of the jobs app (mounted under /console/)."""

from django.urls import path

from jobs import services
from jobs.views import assets as asset_views
from jobs.views import bulk, cluster, controls, execution, job, new_job
from jobs.views import jobs as views

urlpatterns = [
    path("jobs/", views.JobListView.as_view(), name="jobs"),
    path("jobs/bulk/report/", bulk.BulkReportView.as_view(), name="jobs-bulk-report"),
    *(
        path(
            f"jobs/bulk/{name}",
            bulk.BulkView.as_view(bulk_action=name, action_by_method={"post": action}),
            name=f"jobs-bulk-{name}",
        )
        for name, action in services.BULK_ACTIONS.items()
    ),
    path("jobs/new", new_job.NewJobView.as_view(), name="job-new"),
    path("jobs/<str:job_id>/", job.JobDetailView.as_view(), name="job"),
    path("jobs/<str:job_id>/start", job.StartView.as_view(), name="job-start"),
    path("jobs/<str:job_id>/stop", controls.StopView.as_view(), name="job-stop"),
    path("jobs/<str:job_id>/pause", controls.PauseView.as_view(), name="job-pause"),
    path("jobs/<str:job_id>/resume", controls.ResumeView.as_view(), name="job-resume"),
    path("jobs/<str:job_id>/recover", controls.RecoverView.as_view(), name="job-recover"),
    path("jobs/<str:job_id>/workers", controls.WorkersView.as_view(), name="job-workers"),
    path("jobs/<str:job_id>/close", job.CloseView.as_view(), name="job-close"),
    path("jobs/<str:job_id>/open", job.OpenView.as_view(), name="job-open"),
    path("ex/<str:ex_id>/", execution.ExecutionView.as_view(), name="execution"),
    path("ex/<str:ex_id>/errors", execution.ExecutionErrorsView.as_view(), name="execution-errors"),
    path("ex/<str:ex_id>/stop", controls.StopView.as_view(), name="ex-stop"),
    path("ex/<str:ex_id>/pause", controls.PauseView.as_view(), name="ex-pause"),
    path("ex/<str:ex_id>/resume", controls.ResumeView.as_view(), name="ex-resume"),
    path("ex/<str:ex_id>/recover", controls.RecoverView.as_view(), name="ex-recover"),
    path("ex/<str:ex_id>/workers", controls.WorkersView.as_view(), name="ex-workers"),
    path("cluster/", cluster.ClusterView.as_view(), name="cluster"),
    path("cluster/nodes/<str:node_id>/forget", cluster.ForgetNodeView.as_view(), name="node-forget"),
    # Assets: here, not in the assets app, because they show which jobs use each version (jobs/views/assets.py).
    path("assets/", asset_views.AssetListView.as_view(), name="assets"),
    path("assets/upload", asset_views.AssetUploadView.as_view(), name="asset-upload"),
    path("assets/<str:name>/", asset_views.AssetNameView.as_view(), name="asset"),
    path("assets/<str:asset_id>/delete", asset_views.AssetDeleteView.as_view(), name="asset-delete"),
]
