"""Indexes for the console's reads at size (issue 14): a job's latest status from the index alone (the
jobs list's status filter), and the throughput chart's finished slices by time (a partial index: a slice
enters it once, when it finishes). The new execution index replaces `ex_job_created` (same keys); it is
built before the old one is dropped, so a job's executions are never read without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0009_slice_execution_no_own_index"),
        ("tasks", "0010_task_pid_node_python_version"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(fields=["job", "-created"], include=("status",), name="ex_job_created_status"),
        ),
        migrations.RemoveIndex(model_name="execution", name="ex_job_created"),
        migrations.AddIndex(
            model_name="slice",
            index=models.Index(
                condition=models.Q(("state__in", ["completed", "error"])),
                fields=["execution", "updated"],
                name="slice_finished",
            ),
        ),
    ]
