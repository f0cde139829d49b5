# A slice keeps no foreign key to its execution in the database: its check was a lookup per slice written,
# on the controller's insert that the workers wait on (perf, 20,000-slice run: 17% of the controller's
# PostgreSQL CPU), and executions are never deleted (deleting one is a flag; the admin refuses).
# services.add_slices locks the execution's row once per batch instead. Django reports this AlterField as
# a no-op, so the constraint is dropped by name here.

import django.db.models.deletion
from django.db import migrations, models

from jobs.migrations._foreign_keys import drop_foreign_key


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0014_slice_tables_fillfactor"),
    ]

    operations = [
        drop_foreign_key(
            "jobs_slice",
            "execution_id",
            "jobs_execution",
            "ex_id",
            migrations.AlterField(
                model_name="slice",
                name="execution",
                field=models.ForeignKey(
                    db_constraint=False,
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="slices",
                    to="jobs.execution",
                ),
            ),
        ),
    ]
