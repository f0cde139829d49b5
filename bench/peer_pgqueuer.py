"""The peer of bench/peers.py: pgqueuer's batched throughput on the same work as Jobsite's slice run, on
the same PostgreSQL. Run by the peers' own virtualenv (var/peers-venv, `make bench-peers`), never the
product's: it imports pgqueuer and the standard library only, and is given the server on its command line.

    peer_pgqueuer.py --host SOCKET_DIR --port 5432 --user postgres --dbname DB install
    peer_pgqueuer.py ... round --jobs 20000 --consumers 2 --batch-size 10 --enqueue-batch-size 10
    peer_pgqueuer.py ... consume --batch-size 10          (started by `round`, one per consumer process)

The password, if any, comes from PGPASSWORD (asyncpg reads it). `install` installs pgqueuer's schema in
DB (which bench/peers.py created for it). `round` starts the consumer processes (each one PgQueuer on one
asyncpg connection, `PgQueuer.run(batch_size=...)`, as pgqueuer's tools/benchmark.py runs its dequeuers),
waits until each has dequeued a warm-up job, then times from the first `enqueue` of JOBS no-op jobs (lists
of ENQUEUE_BATCH_SIZE entrypoints and payloads per call, one producer) until the queue table is empty,
polled every 0.1 s (pgqueuer deletes a job's row when it logs it done). It stops the consumers, checks
they ran every job once, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import signal
import subprocess
import sys
import threading
import time

import asyncpg
from pgqueuer import PgQueuer, Queries
from pgqueuer import __version__ as pgqueuer_version
from pgqueuer.adapters.cli.cli import asyncio_run  # pgqueuer's own runner: uvloop where it is installed
from pgqueuer.db import AsyncpgDriver

ENTRYPOINT = "noop"
WARMUP = "warmup"
POLL_SECONDS = 0.1  # as bench/runs.py polls an execution's status


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] pgqueuer: {message}", file=sys.stderr, flush=True)


async def connect(args) -> asyncpg.Connection:
    return await asyncpg.connect(host=args.host, port=args.port, user=args.user, database=args.dbname)


async def install(args) -> dict:
    connection = await connect(args)
    try:
        await Queries(AsyncpgDriver(connection)).install()
    finally:
        await connection.close()
    return {"installed": args.dbname, "pgqueuer": pgqueuer_version}


async def consume(args) -> None:
    """One consumer process: `dequeuers` PgQueuers (each its own connection) until SIGTERM; then prints
    how many jobs of each entrypoint it ran."""
    counts = {ENTRYPOINT: 0, WARMUP: 0}
    pgqs = []
    for _ in range(args.dequeuers):
        pgq = PgQueuer(AsyncpgDriver(await connect(args)))

        @pgq.entrypoint(ENTRYPOINT)
        async def noop(job) -> None:
            counts[ENTRYPOINT] += 1

        @pgq.entrypoint(WARMUP)
        async def warmup(job) -> None:
            counts[WARMUP] += 1
            if counts[WARMUP] == 1:
                print("warm", flush=True)

        pgqs.append(pgq)

    def shutdown():
        for pgq in pgqs:
            pgq.shutdown.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown)
    print("ready", flush=True)
    await asyncio.gather(*(pgq.run(batch_size=args.batch_size) for pgq in pgqs))
    print(json.dumps(counts), flush=True)


def die_with_parent():
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Consumers:
    """The consumer processes of one round; a thread per process collects the lines it prints."""

    def __init__(self, args):
        self.args = args
        self.processes: list[subprocess.Popen] = []
        self.lines: list[list[str]] = []
        self.readers: list[threading.Thread] = []

    def start(self):
        argv = [sys.executable, __file__, *connection_argv(self.args), "consume"]
        argv += ["--batch-size", str(self.args.batch_size), "--dequeuers", str(self.args.dequeuers)]
        for _ in range(self.args.consumers):
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                text=True,
                # Only a prctl call runs between fork and exec.
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
            lines: list[str] = []
            reader = threading.Thread(target=lambda out=process.stdout, into=lines: into.extend(out), daemon=True)
            reader.start()
            self.processes.append(process)
            self.lines.append(lines)
            self.readers.append(reader)

    def without(self, line: str) -> list[int]:
        """The consumers that have not printed `line` yet; RuntimeError if one has exited."""
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"consumer {process.pid} exited with code {process.returncode}")
        return [i for i, lines in enumerate(self.lines) if f"{line}\n" not in lines]

    async def stop(self, timeout: float = 30) -> list[dict]:
        """SIGTERM each consumer; what each ran (the last line it prints)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        counts = []
        for process, reader, lines in zip(self.processes, self.readers, self.lines, strict=True):
            await asyncio.to_thread(process.wait, timeout)
            await asyncio.to_thread(reader.join, 5)
            ran = [line for line in lines if line.startswith("{")]
            counts.append(json.loads(ran[-1]) if ran else {})
        return counts

    def kill(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


async def queued(queries: Queries) -> int:
    return sum(row.count for row in await queries.queue_size())


async def run_round(args) -> dict:
    connection = await connect(args)
    queries = Queries(AsyncpgDriver(connection))
    await queries.clear_queue()
    consumers = Consumers(args)
    consumers.start()
    try:
        # Untimed: every consumer has connected, installed its listener and run a job. Warm-up jobs
        # are enqueued, a batch for each consumer, whenever the queue is empty, until each has run one.
        deadline = time.monotonic() + 60
        while consumers.without("warm"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumers {consumers.without('warm')} ran no warm-up job in 60 s")
            if not await queued(queries):
                n = args.consumers * args.batch_size
                await queries.enqueue([WARMUP] * n, [None] * n, [0] * n)
            await asyncio.sleep(0.05)
        while await queued(queries):
            await asyncio.sleep(0.05)

        size = args.enqueue_batch_size
        began = time.monotonic()
        for start in range(0, args.jobs, size):
            n = min(size, args.jobs - start)
            await queries.enqueue([ENTRYPOINT] * n, [None] * n, [0] * n)
        enqueued = time.monotonic() - began
        deadline = began + args.timeout
        left = await queued(queries)
        while left and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            left = await queued(queries)
        seconds = time.monotonic() - began
        counts = await consumers.stop()
    finally:
        consumers.kill()
        await connection.close()
    ran = sum(c.get(ENTRYPOINT, 0) for c in counts)
    result = {
        "jobs": args.jobs,
        "seconds": round(seconds, 3),
        "enqueue_seconds": round(enqueued, 3),
        "left": left,
        "ran": ran,
        "ran_per_consumer": [c.get(ENTRYPOINT, 0) for c in counts],
        "per_s": round((args.jobs - left) / seconds, 1),
        "status": "completed" if not left and ran == args.jobs else "incomplete",
        "consumers": args.consumers,
        "dequeuers_per_consumer": args.dequeuers,
        "batch_size": args.batch_size,
        "enqueue_batch_size": args.enqueue_batch_size,
        "driver": "asyncpg",
        "pgqueuer": pgqueuer_version,
    }
    if left:
        result["status"] = f"timed out ({left} left)"
    elif ran != args.jobs:
        result["status"] = f"ran {ran} of {args.jobs} jobs"
    return result


def connection_argv(args) -> list[str]:
    return ["--host", args.host, "--port", str(args.port), "--user", args.user, "--dbname", args.dbname]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="the server's host or socket directory")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", required=True)
    parser.add_argument("--dbname", required=True, help="pgqueuer's own database")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install pgqueuer's schema")
    one = commands.add_parser("round", help="one timed round; prints one JSON line")
    one.add_argument("--jobs", type=int, default=20_000)
    one.add_argument("--consumers", type=int, default=2, help="consumer processes")
    one.add_argument("--timeout", type=float, default=300)
    for command in (one, commands.add_parser("consume", help="one consumer process (started by round)")):
        command.add_argument("--batch-size", type=int, default=10, help="PgQueuer.run(batch_size=...)")
        command.add_argument("--dequeuers", type=int, default=1, help="PgQueuers (connections) per process")
    one.add_argument("--enqueue-batch-size", type=int, default=10, help="jobs per enqueue call")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "consume":
        asyncio_run(consume(args))
        return 0
    run = install if args.command == "install" else run_round
    print(json.dumps(asyncio_run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
