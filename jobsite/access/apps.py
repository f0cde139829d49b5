"""The access app: its models live in tables the tasks app created (tasks_apitoken, tasks_auditentry)."""

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "jobsite.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"
