"""AuditEntry and ApiToken belong to jobsite.access now (its 0001 takes them over); their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_task_number"),
        ("access", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="ApiToken"),
            ],
            database_operations=[],
        ),
    ]
