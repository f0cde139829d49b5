"""The project's own tables: the cumulative histograms behind `/metrics` (jobsite/metrics/)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class HistogramSeries(models.Model):
    """One series of a histogram, summed over every process that observed it: web processes add their
    request latencies (flushed every few seconds), the engine nodes' housekeeping folds task runtimes in
    (TaskRuntimeObservation). A scrape reads these rows, so every web process, on any machine, answers the
    same numbers."""

    metric = models.CharField(max_length=64)
    labels = ArrayField(models.CharField(max_length=255), help_text="Label values, in the metric's label order.")
    bounds = ArrayField(models.FloatField(), help_text="The buckets' upper bounds (+Inf implied).")
    buckets = ArrayField(
        models.BigIntegerField(), help_text="Observations per bucket, not cumulative; one more than bounds (+Inf)."
    )
    sum = models.FloatField(default=0)
    count = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["metric", "labels"]
        constraints = [models.UniqueConstraint(fields=["metric", "labels"], name="histogram_series_key")]

    def __str__(self):
        return f"{self.metric}{self.labels}"


class TaskRuntimeObservation(models.Model):
    """The runtime of one task that ended, appended by a trigger on `tasks_task` in the transaction that
    ended it (migration jobsite 0002). Only inserts, no key but the id: a task's state change never waits
    on another's for a metric. Housekeeping folds these rows into HistogramSeries and deletes them
    (jobsite/metrics/histograms.py); a scrape adds the ones still here."""

    action = models.CharField(max_length=200)
    outcome = models.CharField(max_length=8, help_text="ok or error")
    seconds = models.FloatField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.action} {self.outcome} {self.seconds}s"
