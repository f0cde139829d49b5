"""A task that ends tells the web processes' waiters at once (jobsite/waiting.py): a trigger notifies
channel `jobsite_wakeup` with `task:<id>`, whichever code path ended it (a finish, the reaper, the admin).
The notification is sent when the ending transaction commits."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION jobsite_wake_task_waiters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobsite_wakeup', 'task:' || NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER task_ended AFTER UPDATE OF finished_at ON tasks_task
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION jobsite_wake_task_waiters();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS task_ended ON tasks_task;
DROP FUNCTION IF EXISTS jobsite_wake_task_waiters();
"""


class Migration(migrations.Migration):
    dependencies = [("tasks", "0008_worker_action_name")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
