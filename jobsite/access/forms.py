"""Console forms of access control: the rate-limited login, a new API token, the audit log's filters."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from jobsite.access import login_limit
from jobsite.access.models import ApiToken

OUTCOMES = [("", "any"), ("success", "success"), ("refused", "refused (401/403)"), ("failed", "failed")]


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing a user name and address that failed too often (jobsite/access/login_limit.py)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "too_many_attempts": "Too many failed logins for this user from this address; try again in %(minutes)s minutes.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        client = login_limit.client_address(self.request)
        if login_limit.is_blocked(username, client):
            self.too_many_attempts = True
            minutes = max(1, round(login_limit.window_seconds() / 60))
            raise forms.ValidationError(
                self.error_messages["too_many_attempts"], code="too_many_attempts", params={"minutes": minutes}
            )
        try:
            return super().clean()
        except forms.ValidationError:
            login_limit.record_failure(username, client)
            raise


class TokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "e.g. deploy script on build-01"})}


class AuditFilterForm(forms.Form):
    """Every field optional; an empty form lists everything, newest first."""

    user = forms.CharField(required=False, help_text="Exact user name; `-` for requests without credentials.")
    action = forms.CharField(required=False, help_text="Action, or its beginning (e.g. `cluster:admin/jobs/`).")
    target = forms.CharField(required=False, help_text="Exact job, execution or token id.")
    outcome = forms.ChoiceField(required=False, choices=OUTCOMES)
    since = forms.DateTimeField(required=False, help_text="From this time (YYYY-MM-DD or YYYY-MM-DD HH:MM).")
    until = forms.DateTimeField(required=False, help_text="Up to this time.")

    def filter(self, entries):
        data = self.cleaned_data
        if data["user"]:
            entries = entries.filter(user="" if data["user"] == "-" else data["user"])
        if data["action"]:
            entries = entries.filter(action__startswith=data["action"])
        if data["target"]:
            entries = entries.filter(target=data["target"])
        if data["outcome"]:
            entries = entries.with_outcome(data["outcome"])
        if data["since"]:
            entries = entries.filter(at__gte=data["since"])
        if data["until"]:
            entries = entries.filter(at__lte=data["until"])
        return entries
