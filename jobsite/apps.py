from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsiteConfig(AppConfig):
    name = "jobsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobsite.admin import grant_privilege_permissions
        from jobsite.api import schema  # noqa: F401  (registers the OpenAPI extensions)

        # Django sends post_migrate only to apps with models, which jobsite has not: listen for auth's,
        # sent on every migrate and flush.
        post_migrate.connect(grant_privilege_permissions, sender=self.apps.get_app_config("auth"))
