"""Admin for nodes and tasks.

Nodes and tasks are written only by the node registry and the task registry: operators look at them
and may forget nodes that left the cluster, but never edit them.
"""

from datetime import timedelta

from django.contrib import admin
from django.template.defaultfilters import pluralize
from django.utils import timezone

from jobsite.actions import NODES_FORGET
from jobsite.admin import (
    PrivilegedActions,
    ViewOnly,
    change_link,
    changelist_link,
    json_display,
    privileged_action,
)
from tasks.models import Node, Task
from tasks.nodes import forget_node


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
class NodeAdmin(PrivilegedActions, ViewOnly, admin.ModelAdmin):
    list_display = ["name", "node_id", "hostname", "role_list", "connected", "version", "total", "heartbeat_at"]
    list_filter = [ConnectedFilter, RoleFilter, "version"]
    search_fields = ["node_id__exact", "name", "hostname"]
    ordering = ["name", "node_id"]
    fields = [
        "node_id",
        "name",
        "hostname",
        "pid",
        "role_list",
        "connected",
        "version",
        "total",
        "tasks",
        "started_at",
        "heartbeat_at",
        "stopped_at",
    ]
    actions = ["forget"]

    @privileged_action(NODES_FORGET, "Forget selected nodes", done="forgotten")
    def forget(self, request, node):
        forget_node(node)

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
        "task_id",
        "action",
        "target",
        "node_link",
        "parent_link",
        "started_at",
        "running",
        "running_time",
        "cancellable",
        "cancelled",
    ]
    list_filter = [RunningFilter, "cancellable", "cancelled", "action", "node"]
    list_select_related = ["node", "parent"]
    # Case-sensitive exact and prefix lookups, not the default icontains: the table is large.
    search_fields = ["target__exact", "action__startswith", "node__node_id__exact"]
    # Newest first by primary key: ids follow start order and, unlike started_at, are indexed.
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "task_id",
        "action",
        "type",
        "description",
        "target",
        "node_link",
        "parent_link",
        "children",
        "started_at",
        "finished_at",
        "running_time",
        "cancellable",
        "cancelled",
        "cancellation_reason",
        "status_json",
        "headers_json",
        "result_json",
        "error_json",
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
