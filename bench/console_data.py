"""A big console database, written set-wise (INSERT ... SELECT over generate_series, one statement per table
and kind of row, never a row at a time): jobs, their executions in realistic statuses, the status history,
slices (a large share under ONE execution, whose page the benchmark measures), error records, tasks (the
living executions' loops and every execution's own task), worker nodes, assets used by the executions and
audit entries. Ids are uuids derived from numbers (md5), so the same sizes give the same rows. Slices and
transitions are inserted in the order of their indexes (execution, then number): in random order the
index pages are written all over, which made the slices alone take minutes.

`seed(url, sizes)` returns what the benchmark's pages need: the big job and execution, and a few others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from bench import log
from jobsite import actions

KINDS = "ARRAY['ingest','rollup','reindex','export','enrich','backfill','audit','archive']"
SOURCES = "ARRAY['logs','metrics','orders','users','events']"
ASSET_NAMES = 20
ASSET_VERSIONS = 10
NODES = 8
SLOTS_PER_NODE = 16
SLICES_PER_SPREAD_EXECUTION = 100


@dataclass
class Sizes:
    jobs: int
    executions: int
    slices: int
    big_slices: int  # of `slices`, under the one big (running) execution
    big_job_executions: int  # of `executions`, all of one job's
    finished_tasks: int
    audit: int


@dataclass
class Seeded:
    big_job: str
    big_ex: str
    job: str  # an ordinary job: a few executions
    ex: str  # an ordinary terminal execution with slices
    asset_name: str
    counts: dict
    seconds: float


def job_id(n: str) -> str:
    return f"md5('job-' || ({n}))::uuid::text"


def ex_id(n: str) -> str:
    return f"md5('ex-' || ({n}))::uuid::text"


def asset_id(n: str) -> str:
    return f"(md5('asset-' || ({n})) || substr(md5('asset2-' || ({n})), 1, 8))"


def node_id(n: str) -> str:
    return f"('benchnode' || lpad(({n})::text, 13, '0'))"


def statements(s: Sizes) -> list[tuple[str, str]]:
    """(what, SQL) in order. Execution 1..big_job_executions belong to job 1 (the last of them is the big
    running one); the others go round-robin over jobs 2..ran (the last tenth of the jobs never ran), so a
    job's executions are in order of their number."""
    ran = max(s.jobs - s.jobs // 10, 2)
    spread = s.executions - s.big_job_executions
    big = s.big_job_executions
    # execution i (> big): k-th of job 2 + (i - big - 1) % (ran - 1)
    ex_job = f"(CASE WHEN i <= {big} THEN 1 ELSE 2 + mod(i - {big} - 1, {ran - 1}) END)"
    ex_created = (
        f"(CASE WHEN i <= {big} THEN now() - interval '40 days' + (i::float / {big}) * interval '40 days' "
        f"- interval '3 hours' ELSE now() - interval '50 days' + ((i - {big})::float / {max(spread, 1)}) "
        "* interval '49 days' END)"
    )
    terminal = (
        "(CASE WHEN mod(i, 25) = 0 THEN 'failed' WHEN mod(i, 25) = 1 THEN 'stopped' "
        "WHEN mod(i, 50) = 2 THEN 'terminated' ELSE 'completed' END)"
    )
    processed = "(50 + mod(i * 7, 950))"
    spread_slices = s.slices - s.big_slices
    spread_executions = spread_slices // SLICES_PER_SPREAD_EXECUTION
    return [
        (
            "jobs",
            f"""
INSERT INTO jobs_job (job_id, name, spec, active, state, created, updated, deleted, deleted_on)
SELECT {job_id("j")}, name,
       jsonb_build_object('name', name, 'lifecycle', CASE WHEN mod(j, 5) = 0 THEN 'persistent' ELSE 'once' END,
           'workers', 1 + mod(j, 4), 'assets', jsonb_build_array('bench-asset-' || mod(j, {ASSET_NAMES})),
           'operations', jsonb_build_array(jsonb_build_object('_op', 'data_generator', 'size', 1000 * (1 + mod(j, 9))),
                                           jsonb_build_object('_op', 'noop'))),
       true, CASE WHEN mod(j, 17) = 0 THEN 'closed' ELSE 'opened' END,
       now() - interval '60 days' - j * interval '1 minute', now() - interval '60 days' - j * interval '1 minute',
       mod(j, 97) = 0, CASE WHEN mod(j, 97) = 0 THEN now() - interval '1 day' END
FROM generate_series(1, {s.jobs}) AS g(j),
     LATERAL (SELECT ({KINDS})[1 + mod(j, 8)] || '-' || ({SOURCES})[1 + mod(j / 8, 5)] || '-' || j AS name) n
""",
        ),
        (
            "assets",
            f"""
INSERT INTO assets_asset (id, name, version, description, python_version, platform, arch, metadata, operations,
                          size, created)
SELECT {asset_id("a")}, 'bench-asset-' || mod(a, {ASSET_NAMES}), '1.' || (a / {ASSET_NAMES}) || '.0',
       'a benchmark asset', '', '', '', jsonb_build_object('name', 'bench-asset-' || mod(a, {ASSET_NAMES})),
       '{{}}'::jsonb, 100000 + a, now() - interval '70 days' + (a / {ASSET_NAMES}) * interval '5 days'
FROM generate_series(0, {ASSET_NAMES * ASSET_VERSIONS - 1}) AS g(a)
""",
        ),
        (
            "executions",
            f"""
INSERT INTO jobs_execution (ex_id, job_id, name, config, status, has_errors, failure_reason, slicer_stats, metadata,
    workers, allotted_workers, scheduling_reason, recovered_slice_type, checkpoint, analytics, controller_token,
    asset_ids, created, updated, deleted)
SELECT {ex_id("i")}, job.job_id, job.name, job.spec || jsonb_build_object('ex_id', {ex_id("i")}), {terminal},
       {terminal} = 'failed', CASE WHEN {terminal} = 'failed' THEN 'slice failure: TypeError: bad record ' || i ELSE '' END,
       jsonb_build_object('processed', {processed}, 'failed', CASE WHEN {terminal} = 'failed' THEN 5 ELSE 0 END,
           'queued', 0, 'job_duration', 600, 'workers_joined', 2, 'workers_disconnected', 0,
           'workers_reconnected', 0, 'queuing_complete', true, 'started', to_char(k.created, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
       '{{}}'::jsonb, 2, NULL, '', '', '{{}}'::jsonb,
       jsonb_build_object('0', jsonb_build_object('count', {processed} * 100, 'slices', {processed})),
       '',
       ARRAY[{asset_id(f"mod(job_n, {ASSET_NAMES}) + {ASSET_NAMES} * least({ASSET_VERSIONS - 1}, (i * {ASSET_VERSIONS}) / {s.executions + 1})")}]::varchar[],
       k.created, k.created + interval '10 minutes' + mod(i, 7) * interval '13 minutes', false
FROM generate_series(1, {s.executions}) AS g(i),
     LATERAL (SELECT {ex_job} AS job_n, {ex_created} AS created) k
     JOIN jobs_job job ON job.job_id = {job_id("k.job_n")}
""",
        ),
        (
            "living executions (the newest of some jobs, and the big one)",
            f"""
WITH newest AS (
    SELECT DISTINCT ON (job_id) ex_id, job_id, created FROM jobs_execution ORDER BY job_id, created DESC
), chosen AS (
    SELECT newest.ex_id, newest.job_id,
           CASE WHEN newest.ex_id = {ex_id(str(big))} THEN 'running'
                WHEN mod(abs(hashtext(newest.job_id)), 200) < 3 THEN 'running'
                WHEN mod(abs(hashtext(newest.job_id)), 200) = 3 THEN 'paused'
                WHEN mod(abs(hashtext(newest.job_id)), 200) IN (4, 5) THEN 'scheduling'
                WHEN mod(abs(hashtext(newest.job_id)), 200) = 6 THEN 'pending'
                WHEN mod(abs(hashtext(newest.job_id)), 200) = 7 THEN 'initializing'
                WHEN mod(abs(hashtext(newest.job_id)), 400) = 8 THEN 'failing' END AS status
    FROM newest JOIN jobs_job job ON job.job_id = newest.job_id AND NOT job.deleted
)
UPDATE jobs_execution ex SET status = chosen.status, has_errors = false, failure_reason = '',
       created = CASE WHEN chosen.ex_id = {ex_id(str(big))} THEN now() - interval '2 hours'
                      ELSE now() - interval '1 hour' - mod(abs(hashtext(chosen.ex_id)), 600) * interval '1 minute' END,
       updated = now(),
       scheduling_reason = CASE WHEN chosen.status = 'scheduling'
                                THEN 'waiting for 2 slots: 0 of {NODES * SLOTS_PER_NODE} free' ELSE '' END,
       allotted_workers = CASE WHEN chosen.status IN ('running', 'paused', 'failing') THEN 2 END,
       controller_node_id = CASE WHEN chosen.status IN ('running', 'paused', 'failing')
                                 THEN {node_id(f"1 + mod(abs(hashtext(chosen.ex_id)), {NODES})")} END,
       controller_heartbeat = CASE WHEN chosen.status IN ('running', 'paused', 'failing') THEN now() END,
       slicer_stats = ex.slicer_stats || jsonb_build_object('queuing_complete', false, 'queued', 20)
FROM chosen WHERE ex.ex_id = chosen.ex_id AND chosen.status IS NOT NULL
""",
        ),
        (
            "big execution's counters",
            f"""
UPDATE jobs_execution SET workers = 8, allotted_workers = 8, analytics = '{{}}'::jsonb,
       config = config || '{{"lifecycle": "once"}}'::jsonb,
       slicer_stats = jsonb_build_object('processed', {s.big_slices - s.big_slices // 25},
           'failed', {s.big_slices // 50}, 'queued', {s.big_slices // 25 - 16}, 'queuing_complete', true,
           'workers_joined', 8, 'started', to_char(now() - interval '2 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
WHERE ex_id = {ex_id(str(big))}
""",
        ),
        (
            "jobs' updated (their newest execution's)",
            """
UPDATE jobs_job job SET updated = newest.updated
FROM (SELECT job_id, max(updated) AS updated FROM jobs_execution GROUP BY job_id) newest
WHERE newest.job_id = job.job_id
""",
        ),
        (
            "status history",
            """
INSERT INTO jobs_executiontransition (execution_id, from_status, to_status, actor, reason, at)
SELECT ex.ex_id, step.from_status, step.to_status, step.actor, step.reason, step.at
FROM jobs_execution ex
CROSS JOIN LATERAL (VALUES
    ('', 'pending', 'bench-admin', '', ex.created, true),
    ('pending', 'scheduling', 'scheduler', '', ex.created + interval '1 second', ex.status <> 'pending'),
    ('scheduling', 'initializing', 'scheduler', '', ex.created + interval '2 seconds',
        ex.status NOT IN ('pending', 'scheduling')),
    ('initializing', 'running', 'engine@bench', '', ex.created + interval '3 seconds',
        ex.status NOT IN ('pending', 'scheduling', 'initializing')),
    ('running', ex.status, 'engine@bench', ex.failure_reason, ex.updated,
        ex.status IN ('completed', 'failed', 'stopped', 'terminated', 'paused', 'failing'))
) AS step(from_status, to_status, actor, reason, at, happened)
WHERE step.happened
ORDER BY ex.ex_id, step.at
""",
        ),
        (
            "big execution's pauses and resumes",
            f"""
INSERT INTO jobs_executiontransition (execution_id, from_status, to_status, actor, reason, at)
SELECT {ex_id(str(big))}, CASE WHEN mod(n, 2) = 0 THEN 'running' ELSE 'paused' END,
       CASE WHEN mod(n, 2) = 0 THEN 'paused' ELSE 'running' END, 'operator-' || mod(n, 3), 'bench',
       now() - interval '2 hours' + n * interval '10 seconds'
FROM generate_series(0, 599) AS g(n)
""",
        ),
        (
            f"big execution's {s.big_slices:,} slices",
            f"""
INSERT INTO jobs_slice (slice_id, execution_id, slicer_id, slicer_order, request, state, error, retry_count, holder,
                        created, updated)
SELECT (substr(md5('big'), 1, 16) || lpad(to_hex(n), 16, '0'))::uuid::text, {ex_id(str(big))}, 0, n, jsonb_build_object('count', 100, 'start', n * 100),
       st.state, CASE WHEN st.state = 'error' THEN 'TypeError: cannot read record ' || n || ' of slice' ELSE '' END,
       CASE WHEN st.state = 'error' THEN 3 ELSE 0 END,
       CASE WHEN st.state = 'start' THEN 'worker-' || mod(n, 8) ELSE '' END,
       now() - interval '2 hours' + (n::float / {s.big_slices}) * interval '115 minutes',
       now() - interval '2 hours' + (n::float / {s.big_slices}) * interval '118 minutes'
FROM generate_series(1, {s.big_slices}) AS g(n),
     LATERAL (SELECT CASE WHEN n > {s.big_slices - s.big_slices // 25 + 16} THEN 'pending'
                          WHEN n > {s.big_slices - s.big_slices // 25} THEN 'start'
                          WHEN mod(n, 50) = 0 THEN 'error' ELSE 'completed' END AS state) st
""",
        ),
        (
            "the big execution's work rows (its pending slices and those in hand)",
            f"""
INSERT INTO jobs_slicework (slice_id, execution_id, slicer_order, holder, heartbeat)
SELECT id, execution_id, slicer_order, holder, CASE WHEN state = 'start' THEN now() END
FROM jobs_slice WHERE execution_id = {ex_id(str(big))} AND state IN ('pending', 'start')
""",
        ),
        (
            f"{spread_slices:,} slices of {spread_executions:,} other executions",
            f"""
INSERT INTO jobs_slice (slice_id, execution_id, slicer_id, slicer_order, request, state, error, retry_count, holder,
                        created, updated)
SELECT (substr(md5(ex.ex_id), 1, 16) || lpad(to_hex(n), 16, '0'))::uuid::text, ex.ex_id, 0, n, jsonb_build_object('count', 100, 'start', n * 100),
       CASE WHEN mod(n, 97) = 0 OR (ex.status = 'failed' AND n <= 5) THEN 'error' ELSE 'completed' END,
       CASE WHEN mod(n, 97) = 0 OR (ex.status = 'failed' AND n <= 5) THEN 'ValueError: record ' || n ELSE '' END,
       0, '', ex.created + n * interval '1 second', ex.created + n * interval '1 second' + interval '2 seconds'
FROM (SELECT ex_id, status, created FROM jobs_execution WHERE ex_id <> {ex_id(str(big))}
      ORDER BY created DESC LIMIT {spread_executions}) ex,
     generate_series(1, {SLICES_PER_SPREAD_EXECUTION}) AS g(n)
ORDER BY ex.ex_id, n
""",
        ),
        (
            "worker nodes",
            f"""
INSERT INTO tasks_node (node_id, name, hostname, pid, roles, version, python_version, total, started_at,
                        heartbeat_at, stopped_at)
SELECT {node_id("n")}, 'bench-worker-' || n, 'bench-host-' || n, 1000 + n, ARRAY['worker'], '0.0.0', '3.11.0',
       {SLOTS_PER_NODE}, now() - interval '3 days', now(), NULL
FROM generate_series(1, {NODES}) AS g(n)
""",
        ),
        (
            "living executions' tasks",
            f"""
INSERT INTO tasks_task (node_id, action, type, description, target, status, started_at, heartbeat_at, cancellable,
                        cancelled, cancellation_reason, headers, pid)
SELECT {node_id(f"1 + mod(abs(hashtext(ex_id)), {NODES})")}, '{actions.JOBS_EXECUTION}', 'transport',
       'execution ' || ex_id, ex_id,
       jsonb_build_object('phase', 'running', 'slices', jsonb_build_object('processed',
           (slicer_stats->>'processed')::int,
           'total', CASE WHEN (slicer_stats->>'queuing_complete')::boolean
                         THEN (slicer_stats->>'processed')::int + (slicer_stats->>'queued')::int END)),
       created, now(), true, false, '', '{{}}'::jsonb, NULL
FROM jobs_execution WHERE status IN ('running', 'paused', 'failing', 'initializing')
""",
        ),
        (
            "the loops of the running executions the slots hold",
            f"""
INSERT INTO tasks_task (node_id, action, type, description, target, status, started_at, heartbeat_at, cancellable,
                        cancelled, cancellation_reason, headers, parent_id, number, pid)
SELECT parent.node_id, loop.action, 'transport', loop.action || ' of ' || parent.target, parent.target,
       CASE WHEN loop.number IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('processed', 100 * (1 + loop.number),
           'analytics', jsonb_build_object('0', jsonb_build_object('count', 10000 * (1 + loop.number),
                                                                    'slices', 100 * (1 + loop.number)))) END,
       parent.started_at + interval '1 second', now(), false, false, '', '{{}}'::jsonb, parent.id, loop.number,
       20000 + mod(parent.id * 10 + coalesce(loop.number, 9), 30000)
FROM (SELECT task.*, ex.workers, sum(ex.workers + 1) OVER (ORDER BY ex.workers DESC, ex.created, ex.ex_id) AS held
      FROM tasks_task task JOIN jobs_execution ex ON ex.ex_id = task.target
      WHERE task.action = '{actions.JOBS_EXECUTION}' AND task.finished_at IS NULL AND ex.status = 'running') parent
CROSS JOIN LATERAL (
    SELECT '{actions.JOBS_EXECUTION_CONTROLLER}' AS action, NULL::int AS number
    UNION ALL
    SELECT '{actions.JOBS_EXECUTION_WORKER}', w FROM generate_series(0, parent.workers - 1) AS w
) loop
WHERE parent.held <= {NODES * SLOTS_PER_NODE}
""",
        ),
        (
            f"{s.finished_tasks:,} finished tasks",
            f"""
INSERT INTO tasks_task (node_id, action, type, description, target, status, started_at, finished_at, heartbeat_at,
                        cancellable, cancelled, cancellation_reason, headers, result, error)
SELECT {node_id(f"1 + mod(t, {NODES})")}, act.action, 'transport', act.action || ' ' || {ex_id("t")},
       {ex_id("t")}, jsonb_build_object('phase', 'done'), now() - interval '30 days' + t * interval '20 seconds',
       now() - interval '30 days' + t * interval '20 seconds' + interval '3 seconds', NULL, false, false, '',
       '{{}}'::jsonb,
       CASE WHEN mod(t, 20) <> 0 THEN jsonb_build_object('acknowledged', true) END,
       CASE WHEN mod(t, 20) = 0 THEN jsonb_build_object('type', 'exception', 'reason', 'it failed: ' || t) END
FROM generate_series(1, {s.finished_tasks}) AS g(t),
     LATERAL (SELECT (ARRAY['{actions.JOBS_EXECUTION}', '{actions.JOBS_STOP}', '{actions.JOBS_CLOSE}',
                            '{actions.JOBS_START}'])[1 + mod(t, 4)] AS action) act
""",
        ),
        (
            f"{s.audit:,} audit entries",
            f"""
INSERT INTO tasks_auditentry (at, "user", action, target, method, path, status, client, opaque_id)
SELECT now() - interval '30 days' + a * (interval '30 days' / {max(s.audit, 1)}), 'operator-' || mod(a, 7),
       (ARRAY['{actions.JOBS_START}', '{actions.JOBS_STOP}', '{actions.JOBS_UPDATE}'])[1 + mod(a, 3)],
       {job_id(f"1 + mod(a, {s.jobs})")}, 'POST', '/v1/jobs/' || {job_id(f"1 + mod(a, {s.jobs})")} || '/_start',
       CASE WHEN mod(a, 13) = 0 THEN 409 ELSE 200 END, '127.0.0.1', ''
FROM generate_series(1, {s.audit}) AS g(a)
""",
        ),
    ]


TABLES = (
    "jobs_job",
    "jobs_execution",
    "jobs_executiontransition",
    "jobs_slice",
    "jobs_slicework",
    "tasks_task",
    "tasks_node",
    "assets_asset",
    "tasks_auditentry",
)


# Their indexes and foreign keys are dropped while they fill and built again after, as the same definitions:
# building an index once is many times faster than updating it row by row.
BULK_TABLES = ("jobs_execution", "jobs_executiontransition", "jobs_slice", "tasks_task")


def drop_indexes(conn, table: str) -> list[str]:
    """Drop the table's secondary indexes, unique and foreign-key constraints; the statements that make them
    again, constraints first (a foreign key needs its unique index)."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
        [table],
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
        "(SELECT FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
        [table],
    ).fetchall()
    again = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition, _ in constraints]
    again += [definition for _, definition in indexes]
    for name, _, _ in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return again


def seed(url: str, sizes: Sizes) -> Seeded:
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        rebuild = [statement for table in BULK_TABLES for statement in drop_indexes(conn, table)]
        for what, sql in statements(sizes):
            step = time.monotonic()
            with conn.transaction():
                rows = conn.execute(sql).rowcount
            log(f"  {what}: {rows:,} rows in {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        for statement in rebuild:  # the primary keys stayed: the statements above join on them
            conn.execute(statement)
        log(f"  {len(rebuild)} indexes and constraints built again: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        for table in TABLES:  # fresh statistics and visibility maps, as a database that lived would have
            conn.execute(f"VACUUM (ANALYZE) {table}")
        log(f"  vacuum analyze: {time.monotonic() - step:.1f}s")
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
        big = sizes.big_job_executions
        ordinary = conn.execute(
            f"""SELECT ex.job_id, ex.ex_id FROM jobs_execution ex
                WHERE ex.status = 'failed' AND ex.job_id <> {job_id("1")}
                  AND EXISTS (SELECT FROM jobs_slice s WHERE s.execution_id = ex.ex_id)
                ORDER BY ex.created DESC LIMIT 1"""
        ).fetchone()
        big_job, big_ex = conn.execute(f"SELECT {job_id('1')}, {ex_id(str(big))}").fetchone()
    return Seeded(
        big_job=big_job,
        big_ex=big_ex,
        job=ordinary[0],
        ex=ordinary[1],
        asset_name="bench-asset-1",
        counts=counts,
        seconds=round(time.monotonic() - began, 1),
    )
