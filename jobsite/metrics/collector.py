"""What `/metrics` shows, read from PostgreSQL at each scrape: any web process answers the same.

`scrape(accept)` collects into a registry of its own, not prometheus_client's default one: the default
registry's process and Python metrics would describe whichever web process a scrape reached, a different
one from scrape to scrape. A scrape costs a fixed number of queries, whatever the cluster holds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

import jobsite
from jobs import cluster, selectors
from jobs.lifecycle import SliceState
from jobs.services.placement import slots_by_node
from jobsite.conf import conf
from jobsite.metrics import histograms

PREFIX = "jobsite_"
EXECUTION_LABELS = ("ex_id", "job_id", "name")

# Teraslice's cluster counters (spec/teraslice.md §1.5): the monotonic ones are counters; `queued` goes up
# and down, so it is a gauge.
CLUSTER_COUNTERS = {
    "processed": ("slices_processed", "Slices processed (completed or failed), summed over every execution."),
    "failed": ("slices_failed", "Slices that failed for good, summed over every execution."),
    "workers_joined": ("workers_joined", "Worker loops that joined an execution, summed over every execution."),
    "workers_disconnected": ("workers_disconnected", "Worker loops that ended with an error."),
    "workers_reconnected": ("workers_reconnected", "Worker loops that reconnected to their controller."),
}
HISTOGRAMS = {
    histograms.REQUEST_DURATION: (
        histograms.REQUEST_LABELS,
        "API and console answers by route name, method and status class, from every web process.",
    ),
    histograms.TASK_RUNTIME: (histograms.TASK_LABELS, "Runtime of tasks that ended, by action and outcome."),
}


class DatabaseCollector(Collector):
    def collect(self):
        yield self.info()
        yield from self.cluster()
        yield self.executions()
        slots = slots_by_node()
        yield from self.slots(slots)
        yield self.queues(slots)
        yield from self.living()
        yield from self.histograms()

    @staticmethod
    def info():
        family = GaugeMetricFamily(
            PREFIX + "info", "The cluster's name and Jobsite's version.", labels=["cluster", "version"]
        )
        family.add_metric([conf.cluster_name, jobsite.__version__], 1)
        return family

    @staticmethod
    def cluster():
        counters = cluster.cluster_stats()  # the sums /cluster/stats answers
        for key, (name, documentation) in CLUSTER_COUNTERS.items():
            yield CounterMetricFamily(PREFIX + name, documentation, value=counters[key])
        yield GaugeMetricFamily(
            PREFIX + "slices_queued",
            "Slices written and waiting, summed over every execution.",
            value=counters["queued"],
        )

    @staticmethod
    def executions():
        family = GaugeMetricFamily(PREFIX + "executions", "Executions in each status.", labels=["status"])
        for status, count in selectors.executions_by_status().items():
            family.add_metric([status], count)
        return family

    @staticmethod
    def slots(slots):
        used = GaugeMetricFamily(PREFIX + "node_slots_used", "Engine slots held by running loops.", labels=["node_id"])
        free = GaugeMetricFamily(PREFIX + "node_slots_free", "Engine slots free for new loops.", labels=["node_id"])
        for node_id, each in sorted(slots.items()):
            used.add_metric([node_id], each.used)
            free.add_metric([node_id], each.free)
        return used, free

    @staticmethod
    def queues(slots):
        family = GaugeMetricFamily(
            PREFIX + "queue_depth", "Messages waiting in each django-q2 queue.", labels=["queue"]
        )
        for queue, depth in sorted(selectors.queue_depths(sorted(slots)).items()):
            family.add_metric([queue], depth)
        return family

    @staticmethod
    def living():
        """Slices by state and throughput, of the living executions only (bounded label values)."""
        progress = selectors.living_progress()
        states = GaugeMetricFamily(PREFIX + "slices", "Slices of living executions in each state.", labels=["state"])
        totals = dict.fromkeys(SliceState.values, 0)
        labels = list(EXECUTION_LABELS)
        processed = CounterMetricFamily(
            PREFIX + "execution_slices_processed", "Slices a living execution processed.", labels=labels
        )
        records = CounterMetricFamily(
            PREFIX + "execution_records", "Records a living execution's readers fetched.", labels=labels
        )
        slices_rate = GaugeMetricFamily(
            PREFIX + "execution_slices_per_second", "Slices processed per second since it started.", labels=labels
        )
        records_rate = GaugeMetricFamily(
            PREFIX + "execution_records_per_second", "Records fetched per second since it started.", labels=labels
        )
        for each in progress:
            totals[SliceState.PENDING] += each.queued
            totals[SliceState.START] += each.in_hand
            totals[SliceState.COMPLETED] += each.processed - each.failed
            totals[SliceState.ERROR] += each.failed
            values = [each.ex_id, each.job_id, each.name]
            processed.add_metric(values, each.processed)
            records.add_metric(values, each.records)
            seconds = each.seconds
            slices_rate.add_metric(values, each.processed / seconds if seconds else 0.0)
            records_rate.add_metric(values, each.records / seconds if seconds else 0.0)
        for state, count in totals.items():
            states.add_metric([state], count)
        return states, processed, records, slices_rate, records_rate

    @staticmethod
    def histograms():
        families = {
            metric: HistogramMetricFamily(PREFIX + metric, documentation, labels=list(labels))
            for metric, (labels, documentation) in HISTOGRAMS.items()
        }
        for series in histograms.read_series(tuple(HISTOGRAMS)):
            cumulative, buckets = 0, []
            for bound, count in zip([*series.bounds, float("inf")], series.buckets):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            families[series.metric].add_metric(series.labels, buckets, series.sum)
        yield from families.values()


def scrape(accept: str) -> tuple[bytes, str]:
    """The exposition the `Accept` header asks for (OpenMetrics or Prometheus text) and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
