import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0007_execution_asset_ids"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=django.contrib.postgres.indexes.GinIndex(fields=["asset_ids"], name="ex_asset_ids"),
        ),
    ]
