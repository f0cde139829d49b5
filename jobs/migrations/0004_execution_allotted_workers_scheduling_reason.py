from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_controller_token_and_slice_order")]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="allotted_workers",
            field=models.PositiveIntegerField(
                blank=True, null=True, help_text="Worker loops the scheduler gives it now (its share of the slots)."
            ),
        ),
        migrations.AddField(
            model_name="execution",
            name="scheduling_reason",
            field=models.CharField(blank=True, max_length=255, help_text="Why it waits for slots, while it does."),
        ),
    ]
