# A work row keeps no foreign key to its slice in the database: each is written from its slice's row in the
# same statement, and the check was a lookup per slice on the controller's insert, the path the workers wait
# on (perf, 20,000-slice run: the two foreign-key checks were 29% of the controller's PostgreSQL CPU).
# Django reports this AlterField of a primary key as a no-op, so the constraint is dropped by name here.

import django.db.models.deletion
from django.db import migrations, models

DROP = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'jobs_slicework'::regclass AND confrelid = 'jobs_slice'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE jobs_slicework DROP CONSTRAINT %I', name);
    END LOOP;
END $$;
"""

RESTORE = """
ALTER TABLE jobs_slicework ADD CONSTRAINT jobs_slicework_slice_id_fk_jobs_slice_id
    FOREIGN KEY (slice_id) REFERENCES jobs_slice (id) DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0012_slice_work"),
    ]

    operations = [
        migrations.RunSQL(
            DROP,
            RESTORE,
            state_operations=[
                migrations.AlterField(
                    model_name="slicework",
                    name="slice",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="work",
                        serialize=False,
                        to="jobs.slice",
                    ),
                ),
            ],
        ),
    ]
