"""The built-in test-reader (spec §7.1): Teraslice's fixed requests and records, or ones read from files."""

import json
import random
import uuid

from jobs.ops.api import Fetcher, Reader, Slicer
from jobs.ops.files import open_for_reading
from jobs.ops.generator import DateRenderer
from jobs.ops.registry import implement
from jobsite.errors import Invalid

# Teraslice's default test-reader requests (job-components builtin/test-reader/data/slicer-data.json).
TEST_READER_REQUESTS = (
    {"start": -6878940996019124, "end": 4995595131465210},
    {"start": -4400618598774841, "end": 8534605487412352},
    {"start": -6822763467612484, "end": 6252814625961845},
    {"start": -6793943758905348, "end": 1754922181802628},
    {"start": -4814862622345776, "end": 4207163272646699},
    {"start": -1461374511134913, "end": 8558628134982517},
    {"start": -1295367173747085, "end": 7468438058451645},
    {"start": -4153432969522560, "end": 2296352834921225},
    {"start": -6392538149654172, "end": 5572496310965493},
    {"start": -6031304525053681, "end": 2259909395686558},
)
TEST_READER_RECORD_COUNT = 187
FIRST_NAMES = "Belle Phoebe Elsie Sally Lillie Loretta Helena Caroline Olivia Mayme Fanny Jeanette Rosetta".split()
LAST_NAMES = "Parsons Schmidt Vargas Wade McKinney Reeves McCarthy Cunningham Holloway Cox Ramirez Willis Quinn".split()


def default_test_records() -> list[dict]:
    """The default test-reader records: the same 187 `{id, name, ip, url, created}` every time."""
    rng = random.Random(TEST_READER_RECORD_COUNT)
    render = DateRenderer()
    records = []
    for _ in range(TEST_READER_RECORD_COUNT):
        records.append(
            {
                "id": str(uuid.UUID(bytes=rng.randbytes(16), version=5)),
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "ip": ".".join(str(rng.randrange(256)) for _ in range(4)),
                "url": "http://bijupnag.cv/owi",
                "created": render(2_410_220_241_000 + rng.randrange(86_400_000)),
            }
        )
    return records


def read_json_file(path: str):
    """A data file, opened only inside the file roots (checked again here, on the worker)."""
    try:
        with open_for_reading(path) as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise Invalid(f"Unable to read file at path {path}: {error}") from error


class TestReaderSlicer(Slicer):
    """`once`: each request of the data once, then None; `persistent`: cycles through them forever."""

    __test__ = False  # not a pytest test class

    def __init__(self, context, slicer_id, total_slicers, start_point=None):
        super().__init__(context, slicer_id, total_slicers, start_point)
        path = self.op_config["slicer_data_file_path"]
        self.requests = read_json_file(path) if path else [dict(request) for request in TEST_READER_REQUESTS]
        self.position = 0

    def slice(self):
        if not self.persistent:
            if self.position >= len(self.requests):
                return None
            self.position += 1
            return self.requests[self.position - 1]
        # As Teraslice's: the cycle starts at index 1 and wraps to index 1, so index 0 is never sliced.
        if self.position + 1 >= len(self.requests):
            self.position = 0
        self.position += 1
        return self.requests[self.position]


class TestReaderFetcher(Fetcher):
    """Every slice returns the same records: the data file's, the 187 defaults, or the request itself."""

    __test__ = False

    def __init__(self, context):
        super().__init__(context)
        path = self.op_config["fetcher_data_file_path"]
        self.data = read_json_file(path) if path else default_test_records()

    def fetch(self, request):
        if self.op_config["passthrough_slice"]:
            if not isinstance(request, list):
                raise TypeError("Test, when passthrough_slice is set to true it expects an array")
            return request
        return [dict(record) for record in self.data]


implement("test-reader", Reader(TestReaderSlicer, TestReaderFetcher))
