"""The task management routes (spec/elasticsearch.md §2), at `/_tasks`, `/_cat/tasks` and their `_xpack` twins."""

from jobsite.api.elasticsearch import es_path
from tasks.api.views import CatTasksView, TaskCancelOneView, TaskCancelView, TaskDetailView, TaskListView

urlpatterns: list = [
    *es_path("tasks", TaskListView.as_view(), "task-list"),
    # Before the id route, which would take `_cancel` for a task id.
    *es_path("tasks/_cancel", TaskCancelView.as_view(), "task-cancel"),
    *es_path("tasks/(?P<task_id>[^/]+)", TaskDetailView.as_view(), "task-detail"),
    *es_path("tasks/(?P<task_id>[^/]+)/_cancel", TaskCancelOneView.as_view(), "task-cancel-one"),
    *es_path("cat/tasks", CatTasksView.as_view(), "cat-tasks"),
]
