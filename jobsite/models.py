"""The project's own tables: the cumulative histograms behind `/metrics` (jobsite/metrics/)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class HistogramSeries(models.Model):
    """One series of a histogram, summed over every process that observed it: web processes add their
    request latencies (flushed every few seconds), a trigger on `tasks_task` adds each task's runtime as it
    ends. A scrape reads these rows, so every web process, on any machine, answers the same numbers."""

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
