"""What every console page shares: the privilege check, the button plumbing, and the template context.

Console views declare their actions exactly as API views do (`action_by_method`, checked against the one
table in jobsite/access/privileges.py). A visitor who is not logged in and may not see the page is sent to
the login page; a logged-in user without the privilege gets a 403 page naming the privileges that grant
it. State changes are POST forms with Django's CSRF token, and each answers with a redirect
(POST/redirect/GET). Logging in and out are access control's pages (jobsite/access/views.py).
"""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views import View

from jobsite.access.privileges import ACTION_PRIVILEGES, action_of, may, privileges_of, refusal
from jobsite.errors import DomainError


class ConsoleView(View):
    """A console page or form target; subclasses declare `action_by_method` for what they change."""

    action_by_method: dict[str, str] = {}
    # Pages about the user themself (their tokens): anonymous access (JOBSITE_ANONYMOUS) never reaches them.
    login_required = False

    def dispatch(self, request, *args, **kwargs):
        action = action_of(self, request.method)
        allowed = may(request.user, action)
        if not request.user.is_authenticated and (self.login_required or not allowed):
            return redirect_to_login(request.get_full_path())
        if not allowed:
            raise PermissionDenied(refusal(request.user, action))
        try:
            return super().dispatch(request, *args, **kwargs)
        except DomainError as error:  # e.g. a job id that does not exist: its message, its status
            return render(request, "error.html", {"message": error.message}, status=error.status_code)

    def actor(self) -> str:
        return self.request.user.get_username() or "anonymous"


class ConsoleAction(ConsoleView):
    """A button: POST only, calls one service through `perform`, reports the outcome as a message and
    goes back to the page it came from. A refused or failed action loses nothing and says why."""

    http_method_names = ["post"]
    success_url = "/console/"

    def post(self, request, *args, **kwargs):
        try:
            message = self.perform(request, **kwargs)
        except DomainError as error:
            request._audit_status = error.status_code  # the audit records the outcome, not the redirect
            messages.error(request, error.message)
        else:
            messages.success(request, message)
        return redirect(self.get_success_url())

    def perform(self, request, **kwargs) -> str:
        raise NotImplementedError

    def get_success_url(self) -> str:
        return self.success_url


def console_context(request):
    """`can.jobs_start`, `can.site`, ... in templates: whether to offer a button, from the same table that
    guards it (the action's name after its first slash, slashes as underscores)."""
    if not request.path.startswith("/console/"):
        return {}
    held = privileges_of(getattr(request, "user", None))
    return {
        "can": {
            action.split("/", 1)[1].replace("/", "_"): bool(held & set(granting))
            for action, granting in ACTION_PRIVILEGES.items()
        },
        "privileges": sorted(held),
    }
