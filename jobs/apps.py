from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs import services
        from jobsite import actions
        from tasks import registry

        # Cancelling an execution's task (the tasks API, the console) stops the execution.
        registry.on_cancel(actions.JOBS_EXECUTION, services.cancel_execution_task)
