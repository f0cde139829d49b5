from django.apps import AppConfig


class JobsiteConfig(AppConfig):
    name = "jobsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobsite.api import schema  # noqa: F401  (registers the OpenAPI extensions)
