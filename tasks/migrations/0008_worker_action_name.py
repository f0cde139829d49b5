"""Worker loop tasks are named `cluster:admin/jobs/execution/worker[w]` (spec/jobsite.md §5): rename the
rows of earlier versions, so running loops keep being found by their action."""

from django.db import migrations

OLD, NEW = "cluster:admin/jobs/execution/worker", "cluster:admin/jobs/execution/worker[w]"


def rename(apps, schema_editor, old=OLD, new=NEW):
    apps.get_model("tasks", "Task").objects.filter(action=old).update(action=new)


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0007_move_access_models")]
    operations = [migrations.RunPython(rename, rename_back)]
