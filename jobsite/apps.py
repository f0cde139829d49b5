from django.apps import AppConfig


class JobsiteConfig(AppConfig):
    name = "jobsite"
    default_auto_field = "django.db.models.BigAutoField"
