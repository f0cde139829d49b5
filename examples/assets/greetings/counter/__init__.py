"""counter: a reader whose slices are ranges of numbers and whose records are `{"n": <number>}`."""

from jobs.ops.api import Fetcher as BaseFetcher
from jobs.ops.api import Slicer as BaseSlicer


class Slicer(BaseSlicer):
    """Cuts 1..count into ranges of `per_slice` numbers: `{"start": 1, "end": 10}`, `{"start": 11, ...}`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # On a recovery, continue after the last range that was completed.
        self.next = self.start_point["end"] + 1 if self.start_point else 1

    def slice(self):
        if self.next > self.op_config["count"]:
            return None
        end = min(self.next + self.op_config["per_slice"] - 1, self.op_config["count"])
        request = {"start": self.next, "end": end}
        self.next = end + 1
        return request

    def is_recoverable(self):
        return True


class Fetcher(BaseFetcher):
    def fetch(self, request):
        return [{"n": n} for n in range(request["start"], request["end"] + 1)]
