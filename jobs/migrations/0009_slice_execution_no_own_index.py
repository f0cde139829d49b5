"""The slice's execution loses its own two indexes (the plain one and its `_like` twin): every other index
of jobs_slice starts with the execution, and each index is written on every slice insert.

Only the indexes are dropped: Django's AlterField would also drop and re-add the foreign key, which
re-checks every slice row of a long-lived cluster under a lock."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_execution_asset_ids_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="slice",
                    name="execution",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slices",
                        to="jobs.execution",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[
                        "DROP INDEX IF EXISTS jobs_slice_execution_id_acfdd574",
                        "DROP INDEX IF EXISTS jobs_slice_execution_id_acfdd574_like",
                    ],
                    reverse_sql=[
                        "CREATE INDEX IF NOT EXISTS jobs_slice_execution_id_acfdd574 ON jobs_slice (execution_id)",
                        "CREATE INDEX IF NOT EXISTS jobs_slice_execution_id_acfdd574_like"
                        " ON jobs_slice (execution_id varchar_pattern_ops)",
                    ],
                ),
            ],
        ),
    ]
