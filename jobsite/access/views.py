"""Console pages of access control: logging in and out, your API tokens, and the audit log."""

from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse

from jobsite import actions
from jobsite.access import login_limit
from jobsite.access.forms import AuditFilterForm, RateLimitedAuthenticationForm, TokenForm
from jobsite.access.models import AuditEntry
from jobsite.access.tokens import api_key_value, create_token, revoke_token
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import NotFound

AUDIT_PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    form_class = RateLimitedAuthenticationForm
    template_name = "access/login.html"
    redirect_authenticated_user = True
    action_by_method = {"post": actions.CONSOLE_LOGIN}  # audited, open to all

    def form_valid(self, form):
        self.request._audit_target = form.get_user().get_username()
        return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        self.request._audit_target = form.data.get("username", "")
        if getattr(form, "too_many_attempts", False):
            response.status_code = 429
            response["Retry-After"] = str(login_limit.window_seconds())
        # The page answers 200 (the form again, with the error); the audit records a refused login.
        self.request._audit_status = 429 if response.status_code == 429 else 401
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django's own rule): a link or an image on another site cannot log anyone out."""

    action_by_method = {"post": actions.CONSOLE_LOGOUT}


class TokensView(ConsoleView):
    action_by_method = {"get": actions.TOKENS_OWN}
    login_required = True

    def get(self, request):
        return tokens_page(request, TokenForm())


def tokens_page(request, form, new_key=None, status=200):
    return render(
        request,
        "access/tokens.html",
        {
            "tokens": request.user.api_tokens.all(),
            "form": form,
            "new_key": new_key,
        },
        status=status,
    )


class TokenCreateView(ConsoleView):
    """Shows the new key on the answer to the POST itself, once: it is never stored, so never shown again."""

    action_by_method = {"post": actions.TOKENS_OWN}
    login_required = True
    http_method_names = ["post"]

    def post(self, request):
        form = TokenForm(request.POST)
        new_key = None
        if form.is_valid():
            token, key = create_token(user=request.user, name=form.cleaned_data["name"])
            request._audit_target = token.key_id
            new_key = {"name": token.name, "key": key, "api_key": api_key_value(token, key)}
            form = TokenForm()
        else:
            request._audit_status = 400
        response = tokens_page(request, form, new_key, status=200 if new_key else 400)
        response["Cache-Control"] = "no-store"  # the key must not linger in a cache
        return response


class TokenRevokeView(ConsoleAction):
    action_by_method = {"post": actions.TOKENS_OWN}
    login_required = True

    def perform(self, request, key_id):
        # Only your own tokens: someone else's id is "not found", not "forbidden", so ids cannot be probed.
        token = request.user.api_tokens.filter(key_id=key_id).first()
        if token is None:
            raise NotFound(f"You have no token {key_id}.")
        revoke_token(token)
        return f"Token “{token.name}” is revoked; requests using it are refused from now on."

    def get_success_url(self):
        return reverse("console:tokens")


class AuditView(ConsoleView):
    """The audit log, filtered by user, action, target, outcome and time; newest first."""

    def get(self, request):
        form = AuditFilterForm(request.GET or None)
        entries = AuditEntry.objects.all()
        if form.is_bound and form.is_valid():
            entries = form.filter(entries)
        page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "access/audit.html",
            {
                "form": form,
                "page": page,
                "query": query.urlencode(),
            },
            status=400 if form.is_bound and form.errors else 200,
        )
