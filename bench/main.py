"""What every benchmark's `main` does the same way: run against a stack it starts, stop everything it
started whatever happens (failure, Ctrl-C, SIGTERM), then print the figures and write them as JSON."""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import log
from bench.stack import ROOT, Stack


def add_stack_arguments(parser, *, name: str, engine_workers: int) -> None:
    """The flags every benchmark's stack takes: the worker node's slots, keeping the temporary directory,
    where the figures go (`var/bench-<name>.json`)."""
    parser.add_argument(
        "--engine-workers",
        type=int,
        default=engine_workers,
        help=f"slots of the worker node (default {engine_workers})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and the logs")
    parser.add_argument("--json", default=str(ROOT / "var" / f"bench-{name}.json"), help="where the figures go")


def write_json(path: Path, rows: list[dict], results: dict, args, sizes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "sizes": {name: getattr(args, name) for name in sizes},
        "figures": rows,
        "details": results,
    }
    path.write_text(json.dumps(document, indent=2))


def run_benchmark_main(
    args,
    run_benchmark: Callable[[Stack, object], dict],
    figures: Callable[[dict, object], list[dict]],
    print_report: Callable[[list[dict], dict, object], None],
    sizes,
    stack_class: type[Stack] = Stack,
) -> int:
    """0 when the benchmark ran (whatever its targets say), 130 when interrupted, 1 when it failed."""

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a shell without job control starts background commands with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    began = time.monotonic()
    stack = stack_class(args)
    code = 0
    try:
        stack.start()
        results = run_benchmark(stack, args)
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        code = 130
    except Exception as error:  # noqa: BLE001 - whatever failed, it is reported and all is stopped
        traceback.print_exc()
        log(f"benchmark failed: {error}")
        stack.dump_logs()
        code = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # cleanup is bounded; let it finish
        log("cleaning up")
        stack.stop()
    if code:
        return code
    rows = figures(results, args)
    results["total_seconds"] = round(time.monotonic() - began, 1)
    print_report(rows, results, args)
    out = Path(args.json)
    write_json(out, rows, results, args, sizes)
    print(f"\nfigures written to {out} (whole run {results['total_seconds']} s)")
    return 0
