from django.db import migrations, models


def number_worker_loops(apps, schema_editor):
    """Worker-loop tasks named their number in the action (`.../worker[3]`); it is a field now."""
    Task = apps.get_model("tasks", "Task")
    prefix = "cluster:admin/jobs/execution/worker["
    for task in Task.objects.filter(action__startswith=prefix).only("pk", "action"):
        task.number = int(task.action.removeprefix(prefix).rstrip("]"))
        task.action = "cluster:admin/jobs/execution/worker"
        task.save(update_fields=["number", "action"])


class Migration(migrations.Migration):
    dependencies = [("tasks", "0005_api_token")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="number",
            field=models.PositiveIntegerField(
                blank=True, null=True, help_text="Which one of its parent's children this is (worker loop 3, say)."
            ),
        ),
        migrations.RunPython(number_worker_loops, migrations.RunPython.noop),
    ]
