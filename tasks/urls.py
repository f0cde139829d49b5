"""Console routes of the tasks app (mounted under /console/)."""

from django.urls import path

from tasks import views

urlpatterns = [
    path("tasks/", views.TasksView.as_view(), name="tasks"),
    path("tasks/<str:task_id>/cancel", views.CancelTaskView.as_view(), name="task-cancel"),
]
