"""Which jobs use an asset: a read for the assets console, on the jobs side because the assets app knows
nothing of jobs (pyproject.toml's contracts).

An execution records the ids its job's `assets` references resolved to when it started
(`Execution.asset_ids`); that is what uses an asset, and what the delete guard checks
(`selectors.living_executions_using`). A job that never ran has resolved nothing yet, so it uses nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from jobs.lifecycle import LIVING
from jobs.models import Execution, Job


@dataclass(frozen=True)
class JobUse:
    job_id: str
    name: str
    living_ex_id: str | None  # the job's living execution that runs with the asset, if one does
    last_used: datetime


# How many of the newest executions that used the assets shown are looked at (the living ones always are):
# an asset every job has used for months would otherwise cost a read of most of the executions table.
USAGE_SCANNED = 2_000


@dataclass
class AssetUsage:
    jobs: list[JobUse] = field(default_factory=list)  # living first, then the latest used; at most `per_asset`
    total_jobs: int = 0
    capped: bool = False  # counted among the newest USAGE_SCANNED executions only: older uses may add jobs

    @property
    def living(self) -> list[JobUse]:
        return [use for use in self.jobs if use.living_ex_id]

    @property
    def more(self) -> int:
        return self.total_jobs - len(self.jobs)

    @property
    def scanned(self) -> int:
        return USAGE_SCANNED


# One statement for any number of assets: the newest `scanned` executions using any of them (walking the
# `-updated` index: most executions match, so it stops early) and every living one (the status index), one
# row per asset and job, the first `per_asset` of each asset kept, each asset's number of jobs, and whether
# the scan stopped at its bound.
USAGE_SQL = f"""
WITH newest AS MATERIALIZED (
    SELECT ex.ex_id, ex.job_id, ex.status, ex.created, ex.asset_ids FROM {Execution._meta.db_table} ex
    WHERE ex.asset_ids && %(ids)s::varchar[] AND NOT ex.deleted
    ORDER BY ex.updated DESC LIMIT %(scanned)s
), scanned AS (
    SELECT * FROM newest
    UNION
    SELECT ex.ex_id, ex.job_id, ex.status, ex.created, ex.asset_ids FROM {Execution._meta.db_table} ex
    WHERE ex.status = ANY(%(living)s) AND ex.asset_ids && %(ids)s::varchar[] AND NOT ex.deleted
), used AS (
    SELECT used.asset_id, ex.job_id,
           max(ex.ex_id) FILTER (WHERE ex.status = ANY(%(living)s)) AS living_ex_id,
           max(ex.created) AS last_used
    FROM scanned ex
    CROSS JOIN LATERAL unnest(ex.asset_ids) AS used(asset_id)
    WHERE used.asset_id = ANY(%(ids)s)
    GROUP BY used.asset_id, ex.job_id
), ranked AS (
    SELECT used.*,
           row_number() OVER (PARTITION BY asset_id ORDER BY living_ex_id IS NULL, last_used DESC, job_id) AS rank,
           count(*) OVER (PARTITION BY asset_id) AS jobs
    FROM used
)
SELECT ranked.asset_id, ranked.job_id, job.name, ranked.living_ex_id, ranked.last_used, ranked.jobs,
       (SELECT count(*) FROM newest) >= %(scanned)s AS capped
FROM ranked JOIN {Job._meta.db_table} job ON job.job_id = ranked.job_id
WHERE ranked.rank <= %(per_asset)s
ORDER BY ranked.asset_id, ranked.rank
"""


def usage_of(asset_ids, *, per_asset: int) -> dict[str, AssetUsage]:
    """For each asset id, the jobs whose executions ran with it (at most `per_asset`, living ones first)
    and how many there are, among the newest USAGE_SCANNED executions that used any of these assets and
    every living one (`capped` when older ones were not looked at); an asset nobody used maps to an empty
    AssetUsage."""
    ids = sorted(set(asset_ids))
    usage = {asset_id: AssetUsage() for asset_id in ids}
    if not ids:
        return usage
    with connection.cursor() as cursor:
        params = {"ids": ids, "living": sorted(LIVING), "per_asset": per_asset, "scanned": USAGE_SCANNED}
        cursor.execute(USAGE_SQL, params)
        for asset_id, job_id, name, living_ex_id, last_used, jobs, capped in cursor.fetchall():
            entry = usage[asset_id]
            entry.jobs.append(JobUse(job_id, name, living_ex_id, last_used))
            entry.total_jobs = jobs
            entry.capped = capped
    return usage
