"""Peers benchmark: Jobsite's slice throughput against pgqueuer's batched throughput on the same work, the
same PostgreSQL and the same machine, in one interleaved run (the machine is shared and noisy, so the
figure is a ratio to the peer measured beside it, never a remembered number).

    make bench-peers                                 # creates var/peers-venv (pgqueuer), then the full run
    .venv/bin/python -m bench.peers                  # the same once var/peers-venv exists: 3 rounds of 20,000
    .venv/bin/python -m bench.peers --quick          # 1 round of 2,000: checks that it works

It starts the stack as bench/engine.py does (bench/stack.py: an embedded PostgreSQL or DATABASE_URL, a web
server, one worker node). Jobsite's side of a round is bench/engine.py's figure 1, by the same function
(`runs.slice_throughput`): a `once` job of 20,000 one-record no-op slices, 2 workers, from `POST /v1/jobs`
to `completed`. pgqueuer's side runs bench/peer_pgqueuer.py with the peers' virtualenv's Python on the same
server, in a database of its own (`pgqueuer_bench_<pid>`, dropped at the end): 20,000 no-op jobs enqueued
in batches, 2 consumer processes with pgqueuer's batched dequeue, from the first enqueue until the queue is
empty. Rounds alternate which side goes first; the figures are the medians. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import BenchError, baselines, log, runs
from bench.main import add_stack_arguments, run_benchmark_main
from bench.measure import CpuMeter, Labels
from bench.report import figure_row, figure_table
from bench.stack import ROOT, Stack, _die_with_parent, stop_tree, tail

PEER_SCRIPT = Path(__file__).resolve().parent / "peer_pgqueuer.py"
PEERS_VENV = ROOT / "var" / "peers-venv"
SIZES = {"units": (20_000, 2_000), "rounds": (3, 1)}
RECORDED_SIZES = (
    "units",
    "rounds",
    "workers",
    "engine_workers",
    "pgq_batch_sizes",
    "pgq_enqueue_batch_size",
    "pgq_dequeuers",
)
RATIO_TARGET = 1.5
ABSOLUTE_TARGET = 10_000


class PeersStack(Stack):
    """The engine benchmark's stack plus the peer: its running process and its database, both stopped and
    dropped by `stop()` before the rest, whatever ended the run."""

    def __init__(self, args):
        super().__init__(args)
        self.peer_db: str | None = None
        self.peer_process: subprocess.Popen | None = None

    def peer_connection(self) -> tuple[list[str], dict[str, str]]:
        """The peer script's connection flags (host or socket directory, port, user, its database) and the
        environment carrying the password, if any."""
        params = conninfo_to_dict(self.url)
        argv = ["--host", params.get("host") or "localhost", "--port", str(params.get("port") or 5432)]
        argv += ["--user", params.get("user") or "postgres", "--dbname", self.peer_db]
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "JOBSITE"))}
        if params.get("password"):
            env["PGPASSWORD"] = params["password"]
        return argv, env

    def create_peer_database(self):
        self.peer_db = f"pgqueuer_bench_{os.getpid()}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.peer_db}"')
            conn.execute(f'CREATE DATABASE "{self.peer_db}"')

    def peer(self, *command: str, timeout: float) -> dict:
        """Run the peer script once (its own session: a Ctrl-C reaches this process only, which stops it);
        the JSON line it prints last."""
        path = self.logs.setdefault("pgqueuer", self.tmp / "pgqueuer.log")
        argv, env = self.peer_connection()
        with path.open("ab") as err:
            self.peer_process = subprocess.Popen(
                [str(self.args.peer_python), str(PEER_SCRIPT), *argv, *command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call between fork and exec
            )
            try:
                out, _ = self.peer_process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as error:
                raise BenchError(f"pgqueuer's {command[0]} took over {timeout:.0f} s") from error
        code, self.peer_process = self.peer_process.returncode, None
        lines = out.decode().strip().splitlines()
        if code or not lines:
            raise BenchError(f"pgqueuer's {command[0]} failed (exit code {code}):\n{tail(path)}")
        return json.loads(lines[-1])

    def stop(self):
        if self.peer_process:
            stop_tree(self.peer_process, 10)  # its consumers stop with it (SIGTERM when their parent dies)
        if self.peer_db:
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.peer_db}" WITH (FORCE)')
            except psycopg.Error as error:
                log(f"could not drop database {self.peer_db}: {error}")
        super().stop()


WARM_UP_SLICES = 200


def median(values) -> float | None:
    return round(statistics.median(values), 1) if values else None


def run_benchmark(stack: PeersStack, args) -> dict:
    labels = Labels()
    meter = CpuMeter(stack, labels)
    results: dict = {"load_avg_start": [round(x, 2) for x in os.getloadavg()]}

    from jobs.dispatch import engine_queue  # django-q2's modules need the app registry (see bench/engine.py)

    warm = baselines.django_q_throughput(12, timeout=120, queue=engine_queue(stack.worker_node_id))
    if warm["timed_out"]:
        raise BenchError("the worker node did not process django-q2 tasks within 120 s")
    log("worker node up")

    stack.create_peer_database()
    installed = stack.peer("install", timeout=120)
    log(f"pgqueuer {installed['pgqueuer']} installed in database {stack.peer_db}")

    # As each pgqueuer round first has every consumer run a warm-up job, Jobsite's first round is not the
    # first execution its worker node runs (that one builds its controller's and workers' pipelines and
    # their connections' caches): one small untimed execution first.
    log(f"warm-up: Jobsite, {WARM_UP_SLICES} one-record slices, untimed")
    runs.slice_throughput(stack, labels, meter, WARM_UP_SLICES, args.workers)

    jobsite: list[dict] = []
    peer: dict[int, list[dict]] = {size: [] for size in args.pgq_batch_sizes}
    for number in range(args.rounds):
        sides = ("jobsite", "pgqueuer") if number % 2 == 0 else ("pgqueuer", "jobsite")
        for side in sides:
            if side == "jobsite":
                log(f"round {number + 1}: Jobsite, {args.units} one-record slices, {args.workers} workers")
                run = runs.slice_throughput(stack, labels, meter, args.units, args.workers)
                jobsite.append(run)
                log(f"  {run['status']}: {run['per_s']} slices/s")
                continue
            for size in args.pgq_batch_sizes:
                log(f"round {number + 1}: pgqueuer, {args.units} jobs, {args.workers} consumers, batch_size {size}")
                command = ["round", "--jobs", str(args.units), "--consumers", str(args.workers)]
                command += ["--batch-size", str(size), "--dequeuers", str(args.pgq_dequeuers)]
                command += ["--enqueue-batch-size", str(args.pgq_enqueue_batch_size)]
                timeout = 60 + args.units / 100
                run = stack.peer(*command, "--timeout", str(timeout), timeout=timeout + 60)
                peer[size].append(run)
                log(f"  {run['status']}: {run['per_s']} jobs/s (enqueued in {run['enqueue_seconds']} s)")

    results["jobsite"] = jobsite
    results["pgqueuer"] = {str(size): rounds for size, rounds in peer.items()}
    results["pgqueuer_version"] = installed["pgqueuer"]
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def figures(results: dict, args) -> list[dict]:
    jobsite = results["jobsite"]
    done = all(run["status"] == "completed" for run in jobsite)
    value = median([run["per_s"] for run in jobsite])
    peer = {
        int(size): median([run["per_s"] for run in rounds if run["status"] == "completed"])
        for size, rounds in results["pgqueuer"].items()
    }
    # The baseline is the peer at the best of its settings tried in this run.
    measured = {size: per_s for size, per_s in peer.items() if per_s}
    best = max(measured, key=measured.get) if measured else None
    rounds = f"median of {len(jobsite)}"
    ratio = value / measured[best] if best else None
    rows = [
        figure_row(
            "slices_vs_pgqueuer",
            f"Jobsite {args.units} one-record slices, {args.workers} workers, submit -> completed, {rounds}",
            value,
            "slices/s",
            baseline=f"pgqueuer {measured[best]:,.0f} jobs/s (batch_size {best})" if best else "pgqueuer failed",
            ratio=f"{ratio:.2f}x" if ratio else "n/a",
            target=f">= {RATIO_TARGET}x",
            ok=done and ratio is not None and ratio >= RATIO_TARGET,
        ),
        figure_row(
            "slices_per_s",
            "  same, absolute",
            value,
            "slices/s",
            target=f">= {ABSOLUTE_TARGET} slices/s",
            ok=done and value >= ABSOLUTE_TARGET,
        ),
    ]
    for name, key in (("_created -> completed (history)", "server_per_s"), ("first -> last slice", "steady_per_s")):
        per_s = median([run[key] for run in jobsite if run.get(key)])
        if per_s:
            rows.append(figure_row(f"jobsite_{key}", f"  same, {name}", per_s, "slices/s"))
    for size, rounds_of_size in results["pgqueuer"].items():
        per_s = peer[int(size)]
        first = rounds_of_size[0]
        rows.append(
            figure_row(
                f"pgqueuer_batch_{size}_per_s",
                f"pgqueuer {results['pgqueuer_version']} batch_size {size}, {first['consumers']} consumers "
                f"x {first['dequeuers_per_consumer']}, enqueue -> queue empty, {rounds}",
                per_s,
                "jobs/s",
                baseline=f"Jobsite {value:,.0f} slices/s",
                ratio=f"{value / per_s:.2f}x" if per_s else "n/a",
            )
        )
    return rows


def print_report(rows: list[dict], results: dict, args):
    print()
    print(
        f"Peers benchmark ({'quick' if args.quick else 'full'}), load average {results['load_avg_start'][0]} -> "
        f"{results['load_avg_end'][0]} on {os.cpu_count()} cpus (a shared machine: the figures are noisy)"
    )
    for line in figure_table(rows):
        print(line)
    print("\nper round (odd rounds run Jobsite first, even ones pgqueuer first):")
    for number, run in enumerate(results["jobsite"]):
        line = f"  round {number + 1}: Jobsite {run['per_s']:,.0f} slices/s ({run['status']}, {run['seconds']} s)"
        for size, rounds in results["pgqueuer"].items():
            peer = rounds[number]
            line += (
                f"; pgqueuer batch {size} {peer['per_s']:,.0f} jobs/s ({peer['status']}, {peer['seconds']} s, "
                f"enqueue {peer['enqueue_seconds']} s)"
            )
        print(line)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flag = parser.add_argument
    flag("--quick", action="store_true", help="1 round of 2,000: checks that the benchmark works")
    flag("--units", type=int, help="slices (Jobsite) and jobs (pgqueuer) per round (default 20000; quick 2000)")
    flag("--rounds", type=int, help="rounds, each one run of each side, alternating who goes first (default 3)")
    flag("--workers", type=int, default=2, help="Jobsite's workers and pgqueuer's consumer processes")
    flag(
        "--pgq-batch-sizes",
        default="10,100",
        help="pgqueuer's PgQueuer.run(batch_size=...) values, one peer run each per round; the baseline is the "
        "best (default 10,100: 10 is pgqueuer's default and its tools/benchmark.py's)",
    )
    flag("--pgq-dequeuers", type=int, default=1, help="PgQueuers (connections) per consumer process")
    flag("--pgq-enqueue-batch-size", type=int, default=1000, help="jobs per pgqueuer enqueue call")
    flag("--peer-python", type=Path, default=PEERS_VENV / "bin" / "python", help="the peers' virtualenv's Python")
    add_stack_arguments(parser, name="peers", engine_workers=6)
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.pgq_batch_sizes = [int(size) for size in str(args.pgq_batch_sizes).split(",") if size.strip()]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.peer_python.exists():
        print(f"{args.peer_python} is missing: `make bench-peers` creates var/peers-venv with pgqueuer in it")
        return 1
    return run_benchmark_main(args, run_benchmark, figures, print_report, RECORDED_SIZES, stack_class=PeersStack)


if __name__ == "__main__":
    sys.exit(main())
