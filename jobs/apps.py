from importlib import import_module

from django.apps import AppConfig


def warm_engine_process(**signal) -> None:
    """django-q2 spawned a process: let the engine ready it (by name: only engine processes import it)."""
    import_module("jobs.q").warm_up(**signal)


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django_q.signals import post_spawn

        from assets import services as asset_services
        from jobs import selectors, services
        from jobsite import actions
        from tasks import registry

        # Cancelling an execution's task or its controller's (the tasks API, the console) stops the
        # execution; cancelling a worker loop's removes that worker.
        registry.on_cancel(actions.JOBS_EXECUTION, services.cancel_execution_task)
        registry.on_cancel(actions.JOBS_EXECUTION_CONTROLLER, services.cancel_execution_task)
        registry.on_cancel(actions.JOBS_EXECUTION_WORKER, services.remove_cancelled_worker)
        # An asset a living execution runs operations from may not be deleted (its workers still load it).
        asset_services.on_delete_guard(selectors.living_executions_using)
        post_spawn.connect(warm_engine_process, dispatch_uid="jobs.warm_engine_process")
