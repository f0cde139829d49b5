"""The name of every action a person or the engine performs, in Elasticsearch's `cluster:<kind>/...` form.

Views declare them (`action_by_method`), the privilege table grants them (jobsite/access/privileges.py),
tasks carry them, the audit log records them. One spelling, here.
"""

READ = "cluster:monitor/read"

JOBS_SUBMIT = "cluster:admin/jobs/submit"
JOBS_UPDATE = "cluster:admin/jobs/update"
JOBS_DELETE = "cluster:admin/jobs/delete"
JOBS_START = "cluster:admin/jobs/start"
JOBS_STOP = "cluster:admin/jobs/stop"
JOBS_PAUSE = "cluster:admin/jobs/pause"
JOBS_RESUME = "cluster:admin/jobs/resume"
JOBS_RECOVER = "cluster:admin/jobs/recover"
JOBS_WORKERS = "cluster:admin/jobs/workers"
JOBS_CLOSE = "cluster:admin/jobs/close"
JOBS_OPEN = "cluster:admin/jobs/open"
# The engine's long-running tasks: an execution, and the loops that hold its slots (its controller and
# each of its workers; `[w]` marks a child action, as Elasticsearch's `[s]`/`[n]` do, spec/jobsite.md §5).
JOBS_EXECUTION = "cluster:admin/jobs/execution"
JOBS_EXECUTION_CONTROLLER = "cluster:admin/jobs/execution/controller"
JOBS_EXECUTION_WORKER = "cluster:admin/jobs/execution/worker[w]"

# Asset bundles: an upload is a task (the bundle is checked, then stored in chunks).
ASSETS_UPLOAD = "cluster:admin/assets/upload"
ASSETS_DELETE = "cluster:admin/assets/delete"

TASKS_CANCEL = "cluster:admin/tasks/cancel"
# Removing a node that left the cluster (its tasks keep their ids).
NODES_FORGET = "cluster:admin/nodes/forget"
# A `_tasks` request that waits (`wait_for_completion`) is itself a task.
TASKS_LIST = "cluster:monitor/tasks/lists"

# Anyone holding a privilege may keep API tokens for themselves; admins revoke anybody's.
TOKENS_OWN = "cluster:monitor/tokens/own"
TOKENS_REVOKE = "cluster:admin/tokens/revoke"
# The Django admin, which edits any row by hand.
SITE = "cluster:admin/site"

# Open to everybody, recorded in the audit log.
CONSOLE_LOGIN = "console:login"
CONSOLE_LOGOUT = "console:logout"
