# A work row keeps no foreign key to its slice in the database: each is written from its slice's row in the
# same statement, and the check was a lookup per slice on the controller's insert, the path the workers wait
# on (perf, 20,000-slice run: the two foreign-key checks were 29% of the controller's PostgreSQL CPU).
# Django reports this AlterField of a primary key as a no-op, so the constraint is dropped by name here.

import django.db.models.deletion
from django.db import migrations, models

from jobs.migrations._foreign_keys import drop_foreign_key


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0012_slice_work"),
    ]

    operations = [
        drop_foreign_key(
            "jobs_slicework",
            "slice_id",
            "jobs_slice",
            "id",
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
        ),
    ]
