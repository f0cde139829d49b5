"""Admin for the audit log (read-only, never deleted by hand) and API tokens (created with the key shown
once, revoked by an action that needs `cluster:admin/tokens/revoke`)."""

from django.contrib import admin, messages

from jobsite.access.models import ApiToken, AuditEntry
from jobsite.access.tokens import api_key_value, create_token, revoke_token
from jobsite.actions import TOKENS_REVOKE
from jobsite.admin import PrivilegedActions, ViewOnly, privileged_action


@admin.register(AuditEntry)
class AuditEntryAdmin(ViewOnly, admin.ModelAdmin):
    """Who did what, when, from where: filterable, never edited."""

    list_display = ["at", "user", "action", "target", "method", "status", "client", "opaque_id"]
    list_filter = ["action", "status", "method", "user"]
    search_fields = ["user__exact", "target__exact", "opaque_id__exact", "path__startswith"]
    fields = ["at", "user", "action", "target", "method", "path", "status", "client", "opaque_id"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # entries leave only by the retention period (JOBSITE_AUDIT_DAYS)


@admin.register(ApiToken)
class ApiTokenAdmin(PrivilegedActions, admin.ModelAdmin):
    """Admins create tokens for users (the key is shown once) and revoke them; keys are never stored."""

    list_display = ["name", "user", "key_id", "created", "last_used", "active"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username", "key_id__exact"]
    fields = ["user", "name", "key_id", "created", "last_used", "revoked_at"]
    readonly_fields = ["key_id", "created", "last_used", "revoked_at"]
    actions = ["revoke"]

    @admin.display(boolean=True)
    def active(self, obj):
        return obj.active

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, key = create_token(user=obj.user, name=obj.name)
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"Token key (shown only now): {key}  —  ApiKey header value: {api_key_value(token, key)}",
        )

    @privileged_action(TOKENS_REVOKE, "Revoke the selected tokens", done="revoked")
    def revoke(self, request, token):
        revoke_token(token)
