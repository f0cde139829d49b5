"""Assets benchmark: a 60 MB bundle uploaded to the web server, whose memory must stay flat (the body is
spooled to disk and stored in 1 MiB chunk rows), at a throughput compared with writing the same bytes into
PostgreSQL with `COPY` in the same run.

    .venv/bin/python bench/assets.py            # a 60 MB bundle
    .venv/bin/python bench/assets.py --quick    # a 20 MB bundle: checks that it works
    .venv/bin/python -m bench.assets --quick    # the same, as a module

The bundle holds one file of random (incompressible) bytes, stored uncompressed. The web process's RSS (it
and its children, with psutil) is sampled every 10 ms during the upload; a small upload first warms the
process up, so its allocator's pools are not counted as growth. Figures go to var/bench-assets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
import psutil
import psycopg

from bench import BenchError, log
from bench.main import add_stack_arguments, run_benchmark_main
from bench.report import figure_row, titled_report
from bench.stack import ADMIN_USER, Stack

CHUNK = 1024 * 1024  # assets.models.CHUNK_SIZE
SEND_BLOCK = 256 * 1024
RECORDED_SIZES = ("megabytes",)
MB = 1_000_000


def make_bundle(path: Path, size: int, name: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("asset.json", json.dumps({"name": name, "version": "1.0.0"}))
        with archive.open("vendor/random.bin", "w", force_zip64=True) as member:
            left = size
            while left > 0:
                block = os.urandom(min(CHUNK, left))
                member.write(block)
                left -= len(block)


def rss(process: psutil.Process) -> int:
    total = 0
    for each in [process, *process.children(recursive=True)]:
        try:
            total += each.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class Sampler:
    """The peak RSS of a process tree, sampled in a thread until stopped."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopped.is_set():
            self.peak = max(self.peak, rss(self.process))
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


def upload(base: str, auth, path: Path) -> tuple[float, httpx.Response]:
    def body():
        with open(path, "rb") as file:
            while block := file.read(SEND_BLOCK):
                yield block

    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)}
    began = time.perf_counter()
    response = httpx.post(f"{base}/assets", content=body(), headers=headers, auth=auth, timeout=600)
    taken = time.perf_counter() - began
    if response.status_code != 201:
        raise BenchError(f"POST /assets -> {response.status_code}: {response.text[:300]}")
    return taken, response


def copy_baseline(url: str, path: Path) -> float:
    """The same bytes, in the same 1 MiB rows, written with COPY into a temporary table, committed."""
    began = time.perf_counter()
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE bench_chunks (number integer, data bytea)")
            with cursor.copy("COPY bench_chunks (number, data) FROM STDIN") as copy, open(path, "rb") as file:
                number = 0
                while data := file.read(CHUNK):
                    copy.write_row((number, data))
                    number += 1
        connection.commit()
    return time.perf_counter() - began


def run_benchmark(stack: Stack, args) -> dict:
    base, auth = str(stack.api.client.base_url), (ADMIN_USER, stack.password)
    size = args.megabytes * MB
    with tempfile.TemporaryDirectory(dir=stack.tmp) as folder:
        warm, big = Path(folder) / "warm.zip", Path(folder) / "big.zip"
        make_bundle(warm, 3 * MB, "bench-warm-up")
        make_bundle(big, size, "bench-big")
        log("warming the web process up with a 3 MB upload")
        upload(base, auth, warm)
        web = psutil.Process(stack.pid("web"))
        time.sleep(0.5)
        before = rss(web)
        log(f"uploading {args.megabytes} MB (web RSS before: {before / MB:.1f} MB)")
        with Sampler(web.pid) as sampler:
            upload_seconds, _ = upload(base, auth, big)
        log("COPY of the same bytes into PostgreSQL")
        copy_seconds = copy_baseline(stack.url, big)
        zip_size = big.stat().st_size
    return {
        "zip_bytes": zip_size,
        "rss_before": before,
        "rss_peak": sampler.peak,
        "growth": max(0, sampler.peak - before),
        "upload_seconds": round(upload_seconds, 3),
        "copy_seconds": round(copy_seconds, 3),
    }


def figures(results: dict, args) -> list[dict]:
    growth, zip_size = results["growth"], results["zip_bytes"]
    upload_rate = zip_size / MB / results["upload_seconds"]
    copy_rate = zip_size / MB / results["copy_seconds"]
    return [
        figure_row(
            "rss_growth",
            f"1 web RSS growth during a {zip_size / MB:.0f} MB upload",
            round(growth / MB, 1),
            "MB",
            baseline=f"chunk {CHUNK / MB:.2f} MB; bundle {zip_size / MB:.0f} MB",
            ratio=f"{growth / CHUNK:.1f}x chunk, {growth / zip_size:.3f}x bundle",
            target="< 2x chunk (never proportional to the bundle)",
            ok=growth < 2 * CHUNK,
        ),
        figure_row(
            "upload_throughput",
            "2 upload throughput (checked, stored in chunk rows)",
            round(upload_rate, 1),
            "MB/s",
            baseline=f"COPY of the same bytes: {copy_rate:.1f} MB/s",
            ratio=f"{upload_rate / copy_rate:.2f}x",
        ),
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 20 MB bundle")
    parser.add_argument("--megabytes", type=int, help="bundle size in MB (default 60, quick 20)")
    add_stack_arguments(parser, name="assets", engine_workers=1)
    args = parser.parse_args(argv)
    if args.megabytes is None:
        args.megabytes = 20 if args.quick else 60
    return args


def main(argv=None) -> int:
    return run_benchmark_main(
        parse_args(argv), run_benchmark, figures, titled_report("Assets benchmark"), RECORDED_SIZES
    )


if __name__ == "__main__":
    sys.exit(main())
