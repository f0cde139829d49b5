"""The console's cluster page: every node with its slots and processes (each controller and worker loop
with its execution and pid, the web server), disconnected nodes with when they were last heard of, and
forgetting a node that left the cluster (confirmed on a page of its own, which works without JavaScript
and is not swapped away by the node table's polling)."""

from django.shortcuts import render
from django.urls import reverse

from jobs import overview
from jobs.views.overview import polled_part
from jobsite import actions
from jobsite.console import ConsoleAction, ConsoleView
from jobsite.errors import NotFound
from tasks.nodes import forget_node
from tasks.selectors import nodes_by_id


class ClusterView(ConsoleView):
    def get(self, request):
        context = {"nodes": overview.nodes()}
        if polled_part(request, {"nodes"}):
            return render(request, "jobs/_cluster_nodes.html", context)
        return render(request, "jobs/cluster.html", context)


class ForgetNodeView(ConsoleAction):
    """GET: what forgetting the node does, and the button; POST: `tasks.nodes.forget_node`, which refuses
    a connected node."""

    action_by_method = {"get": actions.NODES_FORGET, "post": actions.NODES_FORGET}
    http_method_names = ["get", "post"]

    def get(self, request, node_id):
        return render(request, "jobs/forget_node.html", {"node": self.node(node_id)})

    def perform(self, request, node_id):
        request._audit_target = node_id  # the audit names targets found in the URL under known names only
        node = self.node(node_id)
        forget_node(node)
        return f"Node {node.name} ({node.node_id}) is forgotten."

    def get_success_url(self):
        return reverse("console:cluster")

    @staticmethod
    def node(node_id):
        node = nodes_by_id([node_id]).get(node_id)
        if node is None:
            raise NotFound(f"node [{node_id}] is not on record")
        return node
