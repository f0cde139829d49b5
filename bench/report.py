"""The figures of the engine benchmark, each with its baseline, ratio, target and verdict, and the table
and notes printed for a person to read.
"""

from __future__ import annotations

import os


def figure_row(key, name, value, unit, *, baseline=None, ratio=None, target="(info)", ok=True, verdict=None) -> dict:
    """One figure of a report: its value, baseline, ratio, target and verdict (none for information)."""
    return {
        "key": key,
        "figure": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "pass": bool(ok),
        "verdict": "" if target == "(info)" else verdict or ("PASS" if ok else "FAIL"),
    }


def figures(results: dict, args) -> list[dict]:
    """Every figure with its baseline, ratio, target and verdict."""
    rows = []

    def add(key, name, value, unit, *, target, ok, **extra):
        rows.append(figure_row(key, name, value, unit, target=target, ok=ok, **extra))

    def info(key, name, value, unit, **kwargs):  # shown for a person, judged by no target
        add(key, name, value, unit, target="(info)", ok=True, **kwargs)

    s, q, pg = results["slices"], results["django_q"], results["pgbench"]
    done = s["status"] == "completed"
    add(
        "slices_per_s",
        f"1 slice throughput, {args.slices} slices, {args.workers} workers",
        s["per_s"],
        "slices/s",
        # Issue 15's target; the spec's own was 1,000.
        target=">= 10000 slices/s",
        ok=done and s["per_s"] >= 10_000,
    )
    if s.get("server_per_s"):
        name = "  same, _created -> completed (history)"
        info("slices_per_s_server", name, s["server_per_s"], "slices/s")
    if s.get("steady_per_s"):
        name = "  same, first -> last slice completion"
        info("slices_per_s_steady", name, s["steady_per_s"], "slices/s")
    aged = results.get("slices_aged")
    if aged:
        add(
            "slices_per_s_aged",
            f"  same, with {args.old_slices} old slices in the table",
            aged["per_s"],
            "slices/s",
            baseline=f"fresh table {s['per_s']} slices/s",
            ratio=f"{100 * aged['per_s'] / s['per_s']:.0f}%" if s["per_s"] else "n/a",
            target=">= 10000 slices/s",
            ok=aged["status"] == "completed" and aged["per_s"] >= 10_000,
        )
    vs_q = s["per_s"] / q["per_s"] if q["per_s"] else None
    q_baseline = f"{q['per_s']} tasks/s"
    if q["timed_out"]:
        q_baseline += f" ({q['done']} done in {q['seconds']:.0f}s)"
    add(
        "slices_vs_django_q",
        f"  vs django-q2, {q['tasks']} no-op tasks",
        s["per_s"],
        "slices/s",
        baseline=q_baseline,
        ratio=f"{vs_q:.1f}x" if vs_q else "n/a",
        target=">= 10x",
        ok=done and vs_q is not None and vs_q >= 10,
    )
    vs_pg = s["per_s"] / pg["tps"]
    add(
        "slices_vs_pgbench",
        f"  vs pgbench -N -c2 -j2 -T{pg['seconds']}",
        s["per_s"],
        "slices/s",
        baseline=f"{pg['tps']} tps",
        ratio=f"{100 * vs_pg:.0f}%",
        target=">= 20%",
        ok=done and vs_pg >= 0.2,
    )

    r, g = results["records"], results["generation"]
    baseline = args.workers * g["per_s"]
    # The engine's cost per record: records/s while the slices are processed (first to last
    # completion), against two processes generating the same records without the engine. The
    # whole-run figure, which adds the fixed start and end (queue hops, the final summary: ~0.3 s),
    # is printed beside it.
    steady = r.get("steady_per_s") or 0
    vs_gen = steady / baseline
    add(
        "records_per_s_steady",
        f"2 record throughput, {args.records} records, slice {args.slice_size}",
        steady,
        "records/s",
        baseline=f"{args.workers} x {g['per_s']}/s",
        ratio=f"{100 * vs_gen:.0f}%",
        target=">= 80%",
        ok=r["status"] == "completed" and vs_gen >= 0.8,
    )
    info(
        "records_per_s",
        "  same, _created -> completed (fixed costs included)",
        r["per_s"],
        "records/s",
        baseline=f"{args.workers} x {g['per_s']}/s",
        ratio=f"{100 * r['per_s'] / baseline:.0f}%",
    )
    p = results["parallel_generation"]
    info(
        "records_vs_parallel",
        f"  vs {p['processes']} plain processes generating at once",
        steady,
        "records/s",
        baseline=f"{p['per_s']}/s",
        ratio=f"{100 * steady / p['per_s']:.0f}%",
    )
    # Issue 15's target: end to end (submit -> completed, the fixed start and end included) against the same
    # records generated and passed on by a pool of as many plain processes as workers, at 10M records.
    vs_pool = r["per_s"] / p["per_s"]
    add(
        "records_end_to_end_vs_pool",
        f"  end to end vs a pool of {p['processes']} plain processes",
        r["per_s"],
        "records/s",
        baseline=f"{p['per_s']}/s",
        ratio=f"{100 * vs_pool:.0f}%",
        target=">= 90%",
        ok=r["status"] == "completed" and vs_pool >= 0.9,
    )

    f, st = results["first_slice"], results["stop"]
    add(
        "first_slice_s",
        f"3 _start -> first completed slice, median of {f['runs']}",
        f["median_s"],
        "s",
        baseline=f"api sees it: {f['observed_via_api_median_s']} s",
        target="<= 0.1 s",  # issue 15's target; the spec's own was 1 s
        ok=f["median_s"] <= 0.1,
    )
    add(
        "stop_s",
        f"  graceful _stop -> stopped, {st['workers']} busy, median of {st['runs']}",
        st["median_s"],
        "s",
        baseline=f"stopping->stopped: {st['stopping_to_stopped_median_s']} s",
        target="<= 2 s",
        ok=st["median_s"] <= 2,
    )

    m = results["memory"]
    add(
        "worker_peak_rss_mb",
        f"4 peak worker-node process RSS during run 2 ({m['samples']} samples)",
        m.get("peak_mb"),
        "MB",
        baseline=f"max growth {m.get('max_growth_pct')}%",
        target="growth < 20%",
        ok=m.get("flat"),
        verdict=None if m.get("flat") is not None else "n/a",
    )
    return rows


def figure_table(rows: list[dict]) -> list[str]:
    """The figures as aligned text lines, a header and a rule first."""
    header = ("figure", "value", "baseline", "ratio", "target", "")
    table = [header] + [
        (
            r["figure"],
            f"{fmt(r['value'])} {r['unit']}".strip(),
            r["baseline"] or "",
            r["ratio"] or "",
            r["target"],
            r["verdict"],
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    return [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]


def titled_report(title: str):
    """`print_report` for a benchmark whose report is its figures under a title."""

    def print_report(rows: list[dict], results: dict, args):
        print()
        print(f"{title} ({'quick' if args.quick else 'full'})")
        for line in figure_table(rows):
            print(line)

    return print_report


def print_report(rows: list[dict], results: dict, args):
    print()
    cost = results["request_ms"]
    print(
        f"Engine benchmark ({'quick' if args.quick else 'full'}), load average "
        f"{results['load_avg_start'][0]} -> {results['load_avg_end'][0]} on {os.cpu_count()} cpus; "
        f"an API GET takes {cost['api_get_ms']} ms, /healthz {cost['healthz_ms']} ms"
    )
    for line in figure_table(rows):
        print(line)
    print()
    print_cpu(results)
    print_memory(results["memory"])


def print_cpu(results: dict):
    print("where the CPU went (% of one core):")
    runs = (
        ("django-q2 baseline", "django_q"),
        ("run 1 (slices)", "slices"),
        ("run 1b (slices, aged table)", "slices_aged"),
        ("run 2 (records)", "records"),
    )
    for name, key in runs:
        if key not in results:
            continue
        cpu = results[key]["cpu"]
        groups = ", ".join(f"{group} {pct}%" for group, pct in cpu["groups"].items())
        top = ", ".join(f"{t['what']} [{t['pid']}] {t['cpu_pct']}%" for t in cpu["top"][:4])
        print(f"  {name}: {groups}\n    busiest: {top}")
    for name, key in (("run 1", "slices"), ("run 2", "records")):
        queue = results[key].get("queue")
        if queue:
            print(
                f"  {name} pending slices while work was left: median {queue['median_pending']}, "
                f"max {queue['max_pending']}, none pending in {queue['empty_pct']}% of "
                f"{queue['samples']} samples"
            )
        queries = results[key].get("active_queries") or []
        if queries:
            print(f"  {name} active queries (% of samples):")
            for q in queries:
                print(f"    {q['active_pct']:>3}%  {q['query']}")


def print_memory(memory: dict):
    if not memory.get("processes"):
        return
    print("worker-node processes during run 2 (peak RSS MB; first third -> last third):")
    for p in memory["processes"][:8]:
        change = "-"
        if "growth_pct" in p:
            change = f"{p['first_third_mb']} -> {p['last_third_mb']} ({p['growth_pct']:+}%)"
        print(f"  [{p['pid']}] {p['what']:<24} {p['peak_mb']:>7}  {change}")


def fmt(value) -> str:
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
