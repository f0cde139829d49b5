"""Use cases on jobs and executions: the only code that changes their state (DESIGN.md rule 1).

`control` holds what people ask for (submit, start, stop, recover...), `engine` what the execution
engine records (claims, leases, slice outcomes). Both are reached as `jobs.services.<name>`.
"""

from jobs.services.control import *  # noqa: F401,F403
from jobs.services.engine import *  # noqa: F401,F403
