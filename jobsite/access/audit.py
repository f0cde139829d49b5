"""The audit log's writer and its retention: every state-changing request (API, console, admin), refused
ones included, recorded by a middleware; entries past JOBSITE_AUDIT_DAYS purged by the worker nodes."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS

from jobsite.access.models import AuditEntry
from jobsite.access.privileges import action_of
from jobsite.conf import conf

TARGET_KWARGS = ("job_id", "ex_id", "key_id", "object_id")


class AuditMiddleware:
    """Records each unsafe request to a view, after it is answered.

    The action is the one the view declares (`action_by_method`, as the privilege table knows it); admin
    pages are named after the admin URL and the bulk action chosen. A view may set `request._audit_status`
    when its HTTP status does not tell the outcome (a console button answers every click with a redirect),
    and `request._audit_target` when the target is not in the URL.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        action = getattr(request, "_audit_action", None)
        if action:
            AuditEntry.objects.create(
                user=self._username(request),
                action=action,
                target=str(getattr(request, "_audit_target", ""))[:255],
                method=request.method,
                path=request.get_full_path()[:1000],
                status=getattr(request, "_audit_status", response.status_code),
                client=request.META.get("REMOTE_ADDR") or None,
                opaque_id=request.headers.get("X-Opaque-Id", "")[:255],
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in SAFE_METHODS:
            return None
        view_class = getattr(view_func, "view_class", None)
        if view_class is not None and hasattr(view_class, "action_by_method"):
            view = view_class(**getattr(view_func, "view_initkwargs", {}))
            request._audit_action = action_of(view, request.method)
        elif request.resolver_match and request.resolver_match.namespace == "admin":
            request._audit_action = self._admin_action(request)
        else:
            return None
        request._audit_target = next((view_kwargs[k] for k in TARGET_KWARGS if view_kwargs.get(k)), "")
        # Whoever was logged in before the request: a logout leaves the request anonymous afterwards.
        request._audit_user = getattr(request, "user", None)
        return None

    @staticmethod
    def _admin_action(request) -> str:
        action = f"admin:{request.resolver_match.url_name}"
        chosen = request.POST.get("action", "")  # a changelist's bulk action (CSRF checking parsed the form already)
        return f"{action}:{chosen}" if chosen else action

    @staticmethod
    def _username(request) -> str:
        for user in (getattr(request, "user", None), getattr(request, "_audit_user", None)):
            if user is not None and user.is_authenticated:
                return user.get_username()
        return ""


def purge_old_entries() -> int:
    cutoff = timezone.now() - timedelta(days=conf.audit_days)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted
