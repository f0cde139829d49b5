"""Admin for nodes and tasks, and the few display and action helpers the jobs and assets admins share.

Nodes and tasks are written only by the node registry and the task registry: operators look at them
and may delete stale rows, but never edit them.
"""

import json
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, model_ngettext
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from jobsite.errors import DomainError
from jobsite.access.models import ApiToken, AuditEntry
from jobsite.access.privileges import may
from tasks.models import Node, Task
from jobsite.access.tokens import api_key_value, create_token, revoke_token

# Read-only displays render a callable's None as "None", so helpers return the admin's empty marker.
EMPTY = admin.site.empty_value_display


def change_link(model, pk, text=None):
    """A link to a row's change page, or "-" when there is no row."""
    if pk is None:
        return EMPTY
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, pk if text is None else text)


def changelist_link(model, text, **filters):
    """A link to a filtered changelist: how related rows are reached when there can be too many to inline."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def json_display(field_name):
    """A read-only display of a JSON field, indented (Django's own read-only display is one long line)."""

    @admin.display(description=field_name.replace("_", " "))
    def display(model_admin, obj):
        value = getattr(obj, field_name)
        if value is None:
            return EMPTY
        return format_html('<pre style="margin:0">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))

    return display


class ReadOnlyByDefault:
    """Every field on the change page is read-only unless listed in `editable_fields`.

    A whitelist, so a field added to the page later stays read-only until someone decides otherwise.
    The admin must declare `fields` or `fieldsets` (Django would otherwise ask the form, which asks us).
    """

    editable_fields = ()

    def get_readonly_fields(self, request, obj=None):
        return [f for f in flatten_fieldsets(self.get_fieldsets(request, obj)) if f not in self.editable_fields]


class ViewOnly(ReadOnlyByDefault):
    """Rows only the system writes: nothing to add or edit by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def privileged_action(action, description, done):
    """An admin action needing `action` from the privilege table, applied row by row (through a service).

    The decorated function acts on one row. A row the service refuses (a DomainError) gets its own error
    message, the others one summary: "3 executions stopped."
    """

    def decorate(act_on_row):
        @admin.action(description=description)
        @wraps(act_on_row)
        def run(model_admin, request, queryset):
            succeeded = 0
            for row in queryset:
                try:
                    act_on_row(model_admin, request, row)
                except DomainError as error:
                    model_admin.message_user(request, f"{row}: {error.message}", messages.ERROR)
                else:
                    succeeded += 1
            if succeeded:
                done_message = f"{succeeded} {model_ngettext(queryset, succeeded)} {done}."
                model_admin.message_user(request, done_message, messages.SUCCESS)

        run.privileged_action = action
        return run

    return decorate


class PrivilegedActions:
    """Offers only the `privileged_action`s the user may perform. Django looks a posted action up through
    `get_actions` too, so one not offered is refused even when forged."""

    def get_actions(self, request):
        return {
            name: entry
            for name, entry in super().get_actions(request).items()
            if not hasattr(entry[0], "privileged_action") or may(request.user, entry[0].privileged_action)
        }


class ConnectedFilter(admin.SimpleListFilter):
    title = "connected"
    parameter_name = "connected"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.connected()
        if self.value() == "no":
            return queryset.exclude(pk__in=Node.objects.connected().values("pk"))
        return queryset


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Node.Role.choices

    def queryset(self, request, queryset):
        return queryset.with_role(self.value()) if self.value() else queryset


@admin.register(Node)
class NodeAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "node_id", "hostname", "role_list", "connected", "version", "total", "heartbeat_at"]
    list_filter = [ConnectedFilter, RoleFilter, "version"]
    search_fields = ["node_id__exact", "name", "hostname"]
    ordering = ["name", "node_id"]
    fields = [
        "node_id", "name", "hostname", "pid", "role_list", "connected", "version", "total", "tasks",
        "started_at", "heartbeat_at", "stopped_at",
    ]

    @admin.display(description="roles")
    def role_list(self, obj):
        return ", ".join(obj.roles)

    @admin.display(boolean=True)
    def connected(self, obj):
        return obj.is_connected

    @admin.display(description="tasks")
    def tasks(self, obj):
        count = obj.tasks.count()
        return changelist_link(Task, f"{count} task{pluralize(count)}", node__node_id__exact=obj.pk)


class RunningFilter(admin.SimpleListFilter):
    title = "running"
    parameter_name = "running"

    def lookups(self, request, model_admin):
        return [("yes", "Running"), ("no", "Finished")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.running()
        if self.value() == "no":
            return queryset.finished()
        return queryset


@admin.register(Task)
class TaskAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "task_id", "action", "target", "node_link", "parent_link", "started_at", "running", "running_time",
        "cancellable", "cancelled",
    ]
    list_filter = [RunningFilter, "cancellable", "cancelled", "action", "node"]
    list_select_related = ["node", "parent"]
    # Case-sensitive exact and prefix lookups, not the default icontains: the table is large.
    search_fields = ["target__exact", "action__startswith", "node__node_id__exact"]
    # Newest first by primary key: ids follow start order and, unlike started_at, are indexed.
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "task_id", "action", "type", "description", "target", "node_link", "parent_link", "children",
        "started_at", "finished_at", "running_time", "cancellable", "cancelled", "cancellation_reason",
        "status_json", "headers_json", "result_json", "error_json",
    ]

    status_json = json_display("status")
    headers_json = json_display("headers")
    result_json = json_display("result")
    error_json = json_display("error")

    def get_search_results(self, request, queryset, search_term):
        # Operators paste task ids as every other surface shows them: "<node_id>:<id>".
        _, colon, number = search_term.strip().rpartition(":")
        if colon and number.isdigit():
            return queryset.filter(pk=int(number)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="node", ordering="node__name")
    def node_link(self, obj):
        return change_link(Node, obj.node_id, obj.node and obj.node.name)

    @admin.display(description="parent")
    def parent_link(self, obj):
        return change_link(Task, obj.parent_id, obj.parent and obj.parent.task_id)

    @admin.display(description="children")
    def children(self, obj):
        count = obj.children.count()
        return changelist_link(Task, f"{count} child task{pluralize(count)}", parent__id__exact=obj.pk)

    @admin.display(boolean=True, ordering="finished_at")
    def running(self, obj):
        return obj.finished_at is None

    @admin.display(description="running time")
    def running_time(self, obj):
        end = obj.finished_at or timezone.now()
        return str(timedelta(seconds=round((end - obj.started_at).total_seconds())))


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
            f"Token key (shown only now): {key}  —  ApiKey header value: "
            f"{api_key_value(token, key)}",
        )

    @privileged_action("cluster:admin/tokens/revoke", "Revoke the selected tokens", done="revoked")
    def revoke(self, request, token):
        revoke_token(token)
