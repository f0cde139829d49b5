"""The cumulative histograms of `/metrics` (jobsite/metrics/histograms.py), and the trigger that adds each
task's runtime when it ends, whichever process or code path ends it (a finish, a failure, the reaper).

`jobsite_add_counts` adds two bucket arrays element by element; the flush of the web processes uses it too.
A series whose stored bounds differ from the new observation's (the buckets were changed in a release)
starts over, which Prometheus reads as a counter reset. The trigger's bounds are TASK_RUNTIME_BOUNDS, as
of this migration (a test checks they still agree).
"""

import django.contrib.postgres.fields
from django.db import migrations, models

TASK_RUNTIME_BOUNDS = "0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400"

FORWARD = f"""
CREATE FUNCTION jobsite_add_counts(a bigint[], b bigint[]) RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

CREATE FUNCTION jobsite_observe_task_runtime() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bounds double precision[] := ARRAY[{TASK_RUNTIME_BOUNDS}]::double precision[];
    seconds double precision := greatest(extract(epoch FROM NEW.finished_at - NEW.started_at), 0);
    slot integer := array_length(bounds, 1) + 1;
    one bigint[] := array_fill(0::bigint, ARRAY[array_length(bounds, 1) + 1]);
BEGIN
    FOR i IN 1 .. array_length(bounds, 1) LOOP
        IF seconds <= bounds[i] THEN
            slot := i;
            EXIT;
        END IF;
    END LOOP;
    one[slot] := 1;
    INSERT INTO jobsite_histogramseries AS s (metric, labels, bounds, buckets, sum, count, updated)
    VALUES ('task_runtime_seconds',
            ARRAY[NEW.action, CASE WHEN NEW.error IS NULL THEN 'ok' ELSE 'error' END],
            bounds, one, seconds, 1, now())
    ON CONFLICT (metric, labels) DO UPDATE SET
        buckets = CASE WHEN s.bounds = EXCLUDED.bounds THEN jobsite_add_counts(s.buckets, EXCLUDED.buckets)
                  ELSE EXCLUDED.buckets END,
        sum = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.sum + EXCLUDED.sum ELSE EXCLUDED.sum END,
        count = CASE WHEN s.bounds = EXCLUDED.bounds THEN s.count + EXCLUDED.count ELSE EXCLUDED.count END,
        bounds = EXCLUDED.bounds,
        updated = EXCLUDED.updated;
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
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
