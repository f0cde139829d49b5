"""The cumulative histograms of `/metrics` (jobsite/metrics/histograms.py), and the trigger that notes each
task's runtime when it ends, whichever process or code path ends it (a finish, a failure, the reaper).

The trigger only appends a row to `jobsite_taskruntimeobservation`: no unique key, no update, so the
transaction that ends a task (which may end several, of several actions, and hold execution rows) never
waits on another for a metric, nor can deadlock with one. Housekeeping folds the rows into the histogram
(jobsite/metrics/histograms.py, which alone knows the bucket bounds); a scrape adds the rows not folded yet.

`jobsite_add_counts` adds two bucket arrays element by element, for the upserts of the fold and of the web
processes' flush. A series whose stored bounds differ from the new counts' (the buckets were changed in a
release) starts over, which Prometheus reads as a counter reset.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION jobsite_add_counts(a bigint[], b bigint[]) RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

CREATE FUNCTION jobsite_observe_task_runtime() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobsite_taskruntimeobservation (action, outcome, seconds)
    VALUES (NEW.action,
            CASE WHEN NEW.error IS NULL THEN 'ok' ELSE 'error' END,
            greatest(extract(epoch FROM NEW.finished_at - NEW.started_at), 0));
    RETURN NULL;
END $$;

CREATE TRIGGER task_runtime_ended AFTER UPDATE OF finished_at ON tasks_task
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION jobsite_observe_task_runtime();
CREATE TRIGGER task_runtime_inserted_ended AFTER INSERT ON tasks_task
    FOR EACH ROW WHEN (NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION jobsite_observe_task_runtime();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS task_runtime_ended ON tasks_task;
DROP TRIGGER IF EXISTS task_runtime_inserted_ended ON tasks_task;
DROP FUNCTION IF EXISTS jobsite_observe_task_runtime();
DROP FUNCTION IF EXISTS jobsite_add_counts(bigint[], bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("jobsite", "0001_privilege_groups"),
        ("tasks", "0009_wake_task_waiters"),
    ]

    operations = [
        migrations.CreateModel(
            name="HistogramSeries",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("metric", models.CharField(max_length=64)),
                (
                    "labels",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=255),
                        help_text="Label values, in the metric's label order.",
                        size=None,
                    ),
                ),
                (
                    "bounds",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.FloatField(), help_text="The buckets' upper bounds (+Inf implied).", size=None
                    ),
                ),
                (
                    "buckets",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(),
                        help_text="Observations per bucket, not cumulative; one more than bounds (+Inf).",
                        size=None,
                    ),
                ),
                ("sum", models.FloatField(default=0)),
                ("count", models.BigIntegerField(default=0)),
                ("updated", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["metric", "labels"],
                "constraints": [models.UniqueConstraint(fields=("metric", "labels"), name="histogram_series_key")],
            },
        ),
        migrations.CreateModel(
            name="TaskRuntimeObservation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("action", models.CharField(max_length=200)),
                ("outcome", models.CharField(help_text="ok or error", max_length=8)),
                ("seconds", models.FloatField()),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
