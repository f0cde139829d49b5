"""The audit log: every state-changing request to the API, refused ones included."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS

from tasks.models import AuditEntry


class AuditMiddleware:
    """Records unsafe requests to API views (those that declare actions), after they are answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        action = getattr(request, "_audit_action", None)
        if action:
            user = getattr(request, "user", None)  # DRF sets it here when it authenticates
            AuditEntry.objects.create(
                user=user.get_username() if user is not None and user.is_authenticated else "",
                action=action,
                target=request._audit_target,
                method=request.method,
                path=request.get_full_path()[:1000],
                status=response.status_code,
                client=request.META.get("REMOTE_ADDR") or None,
                opaque_id=request.headers.get("X-Opaque-Id", "")[:255],
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if request.method in SAFE_METHODS or view_class is None or not hasattr(view_class, "action_by_method"):
            return None
        from jobsite.privileges import action_of

        view = view_class(**getattr(view_func, "view_initkwargs", {}))
        request._audit_action = action_of(view, request.method)
        request._audit_target = view_kwargs.get("job_id") or view_kwargs.get("ex_id") or ""
        return None


def purge_old_entries() -> int:
    cutoff = timezone.now() - timedelta(days=settings.JOBSITE["AUDIT_DAYS"])
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted
