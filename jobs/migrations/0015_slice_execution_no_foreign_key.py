# A slice keeps no foreign key to its execution in the database: its check was a lookup per slice written,
# on the controller's insert that the workers wait on (perf, 20,000-slice run: 17% of the controller's
# PostgreSQL CPU), and executions are never deleted (deleting one is a flag; the admin refuses).
# services.add_slices locks the execution's row once per batch instead. Django reports this AlterField as
# a no-op, so the constraint is dropped by name here.

import django.db.models.deletion
from django.db import migrations, models

DROP = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'jobs_slice'::regclass AND confrelid = 'jobs_execution'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE jobs_slice DROP CONSTRAINT %I', name);
    END LOOP;
END $$;
"""

RESTORE = """
ALTER TABLE jobs_slice ADD CONSTRAINT jobs_slice_execution_id_fk_jobs_execution_ex_id
    FOREIGN KEY (execution_id) REFERENCES jobs_execution (ex_id) DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0014_slice_tables_fillfactor"),
    ]

    operations = [
        migrations.RunSQL(
            DROP,
            RESTORE,
            state_operations=[
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
            ],
        ),
    ]
