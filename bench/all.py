"""`make bench`: every benchmark under bench/, one after the other (each starts and stops its own stack),
then ONE table of their figures: figure, same-run baseline, ratio, target, PASS/FAIL.

    .venv/bin/python -m bench.all [--quick] [--only web,engine]

Each benchmark writes its figures to var/bench-<name>.json ("figures" rows, bench/report.py's
`figure_row`); this module reads them back. A benchmark whose module is absent is skipped with a notice;
one that fails is shown as such. The exit code says whether every benchmark ran, not whether its targets
were met (as for each benchmark).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/all.py`: the repository root is the import root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.report import figure_table

ROOT = Path(__file__).resolve().parent.parent
# Every benchmark, in the order they run: the one list `make bench` follows. Not bench/peers.py: it needs
# pgqueuer in a virtualenv of its own, which `make bench-peers` installs from the package index (network),
# so it runs on its own.
BENCHMARKS = ("engine", "scheduling", "scale", "waiters", "assets", "web", "console")


def run_one(name: str, quick: bool) -> tuple[str, list[dict]]:
    """(what happened, its figure rows)."""
    if not (ROOT / "bench" / f"{name}.py").exists():
        print(f"\n=== bench/{name}.py is not in this tree: skipped", flush=True)
        return f"skipped: bench/{name}.py is not in this tree", []
    out = ROOT / "var" / f"bench-{name}.json"
    out.unlink(missing_ok=True)  # never report an earlier run's figures as this one's
    argv = [sys.executable, "-m", f"bench.{name}", "--json", str(out), *(["--quick"] if quick else [])]
    print(f"\n=== bench/{name}.py {'--quick' if quick else ''}".rstrip(), flush=True)
    began = time.monotonic()
    code = subprocess.call(argv, cwd=ROOT)
    seconds = time.monotonic() - began
    if code or not out.exists():
        return f"FAILED (exit code {code}, {seconds:.0f} s)", []
    return f"ran in {seconds:.0f} s", json.loads(out.read_text())["figures"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick sizes")
    parser.add_argument("--only", help=f"a comma-separated subset of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = BENCHMARKS
    if args.only:
        names = tuple(name.strip() for name in args.only.split(","))
        unknown = set(names) - set(BENCHMARKS)
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    outcomes, rows = {}, []
    for name in names:
        outcomes[name], figures = run_one(name, args.quick)
        rows += [{**row, "figure": f"{name}: {row['figure']}"} for row in figures if row["target"] != "(info)"]
    print(f"\nAll benchmarks ({'quick' if args.quick else 'full'}): the figures with a target")
    for line in figure_table(rows):
        print(line)
    verdicts = [row["verdict"] for row in rows]
    print(
        f"\n{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, {len(verdicts) - verdicts.count('PASS') - verdicts.count('FAIL')} other"
    )
    for name, outcome in outcomes.items():
        print(f"  {name}: {outcome}")
    return 1 if any(outcome.startswith("FAILED") for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
