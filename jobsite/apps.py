from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsiteConfig(AppConfig):
    name = "jobsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobsite.admin import grant_privilege_permissions
        from jobsite.api import schema  # noqa: F401  (registers the OpenAPI extensions)

        # Listen for auth's post_migrate (sent on every migrate and flush): the permissions granted are
        # auth's, and jobsite had no models of its own to be sent one when this was written.
        post_migrate.connect(grant_privilege_permissions, sender=self.apps.get_app_config("auth"))
