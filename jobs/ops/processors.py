"""The built-in processors (spec §7.2): noop, delay, collect, stdout."""

import json
import sys
import time

from jobs.ops.api import BatchProcessor
from jobs.ops.registry import implement


class Noop(BatchProcessor):
    def on_batch(self, records):
        return records


class Delay(BatchProcessor):
    """Waits `ms` milliseconds per batch."""

    def on_batch(self, records):
        time.sleep(self.op_config["ms"] / 1000)
        return records


class Collect(BatchProcessor):
    """Holds records across slices until `size` of them are held or the oldest has waited `wait` ms.

    It emits everything it holds at that point; with neither option set, it holds nothing back. `wait` is
    checked when a batch arrives. Records still held at shutdown are an error: they were never processed.
    """

    def __init__(self, context):
        super().__init__(context)
        self.held = []
        self.since = 0.0

    def on_batch(self, records):
        if records and not self.held:
            self.since = time.monotonic()
        self.held.extend(records)
        if not self.ready():
            return []
        batch, self.held = self.held, []
        return batch

    def ready(self) -> bool:
        size, wait = self.op_config["size"], self.op_config["wait"]
        if not self.held:
            return False
        if size is None and wait is None:
            return True
        if size is not None and len(self.held) >= size:
            return True
        return wait is not None and (time.monotonic() - self.since) * 1000 >= wait

    def shutdown(self):
        if self.held:
            raise RuntimeError(f"Collect is shutdown with {len(self.held)} unprocessed records")


class Stdout(BatchProcessor):
    """Prints up to `limit` records of each batch (0 = all) as JSON lines."""

    def on_batch(self, records):
        limit = self.op_config["limit"]
        shown = records[:limit] if limit else records
        if shown:
            sys.stdout.write("".join(json.dumps(record, default=str) + "\n" for record in shown))
            sys.stdout.flush()
        return records


implement("noop", Noop)
implement("delay", Delay)
implement("collect", Collect)
implement("stdout", Stdout)
