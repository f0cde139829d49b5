"""An execution whose status changes tells the web processes' waiters at once (jobsite/waiting.py): a
trigger notifies channel `jobsite_wakeup` with `execution:<ex_id>` (a blocking stop waits for the end).
The notification is sent when the changing transaction commits."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION jobsite_wake_execution_waiters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobsite_wakeup', 'execution:' || NEW.ex_id);
    RETURN NULL;
END $$;
CREATE TRIGGER execution_status_changed AFTER UPDATE OF status ON jobs_execution
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION jobsite_wake_execution_waiters();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS execution_status_changed ON jobs_execution;
DROP FUNCTION IF EXISTS jobsite_wake_execution_waiters();
"""


class Migration(migrations.Migration):
    dependencies = [("jobs", "0005_job_snapshot_execution")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
