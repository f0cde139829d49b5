"""file_reader and file_exporter: jobs that read and write local files, no external service needed.

file_reader cuts files into byte ranges. A slice `{path, start, end}` owns the lines whose first byte is in
[start, end): a line crossing `end` is read whole by this slice, and a line that began before `start` is
left to the previous slice. Every line is therefore read exactly once, whatever the slice size. Records
are one line each (csv values cannot span lines).

file_exporter writes each slice's records to its own file, named from the execution and slice ids, and
replaces it atomically, so a retried slice rewrites the same file and no reader ever sees half of one.
"""

import bisect
import csv
import glob
import json
import os
import tempfile

from jobs.ops.api import BatchProcessor, Fetcher, Reader, Slicer
from jobs.ops.registry import implement
from jobsite.errors import Invalid

BOM = b"\xef\xbb\xbf"


def matching_files(path: str) -> list[str]:
    """The regular files `path` names, sorted: a file, a glob, or a directory (its files not starting with ".")."""
    if os.path.isdir(path):
        names = (os.path.join(path, name) for name in os.listdir(path) if not name.startswith("."))
    else:
        names = glob.glob(path, recursive=True)
    return sorted(name for name in names if os.path.isfile(name))


def read_lines(path: str, start: int, end: int) -> list[bytes]:
    """The lines of `path` whose first byte is in [start, end), without their line terminators."""
    with open(path, "rb") as file:
        if start > 0:
            # Skip the rest of a line that began before `start` (only the "\n" if one ended right there).
            file.seek(start - 1)
            file.readline()
        begin = file.tell()
        if begin >= end:
            return []
        data = file.read(end - begin)
        if not data.endswith(b"\n"):
            data += file.readline()
    if start == 0 and data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


class FileSlicer(Slicer):
    """Byte ranges of `size` bytes over the matched files, in order; files are shared among the slicers."""

    parallel = True

    def __init__(self, context, slicer_id, total_slicers, start_point=None):
        super().__init__(context, slicer_id, total_slicers, start_point)
        files = matching_files(self.op_config["path"])
        if not files:
            raise Invalid(f"file_reader: no file matches {self.op_config['path']}")
        self.files = files[slicer_id::total_slicers]
        self.index = 0
        self.offset = 0
        # The current file's length when slicing it began: lines appended later are not read.
        self.length = None
        if start_point:
            self.restore({"path": start_point["path"], "offset": start_point["end"]})

    def slice(self):
        while self.index < len(self.files):
            path = self.files[self.index]
            if self.length is None:
                self.length = os.path.getsize(path)
            if self.offset < self.length:
                end = min(self.offset + self.op_config["size"], self.length)
                request = {"path": path, "start": self.offset, "end": end}
                self.offset = end
                return request
            self.index, self.offset, self.length = self.index + 1, 0, None
        return None

    def is_recoverable(self):
        return True

    def checkpoint(self):
        if self.index >= len(self.files):
            return {"path": None, "offset": 0}
        return {"path": self.files[self.index], "offset": self.offset}

    def restore(self, state):
        """Continue at `offset` of `path`, or at the first file after it when it is no longer there."""
        if state["path"] is None:
            self.index, self.offset = len(self.files), 0
        else:
            self.index = bisect.bisect_left(self.files, state["path"])
            on_same_file = self.index < len(self.files) and self.files[self.index] == state["path"]
            self.offset = state["offset"] if on_same_file else 0
        self.length = None


class FileFetcher(Fetcher):
    """The records of a byte range: JSON documents (`json`), csv rows as objects, or `{"data": line}` (`text`)."""

    def __init__(self, context):
        super().__init__(context)
        self.headers = {}

    def fetch(self, request):
        path, start = request["path"], request["start"]
        lines = read_lines(path, start, request["end"])
        fmt = self.op_config["format"]
        if fmt == "text":
            return [{"data": line.decode("utf-8")} for line in lines]
        if fmt == "json":
            return [self.parse_json(path, line) for line in lines if line.strip()]
        fields = self.op_config["fields"]
        if fields is None:
            fields = self.header(path)
            if start == 0:
                lines = lines[1:]
        rows = csv.DictReader(
            (line.decode("utf-8") for line in lines), fieldnames=fields, delimiter=self.op_config["delimiter"]
        )
        # Values past the last column land under None (DictReader's restkey): they have no name, drop them.
        return [{key: value for key, value in row.items() if key is not None} for row in rows]

    def header(self, path: str) -> list[str]:
        if path not in self.headers:
            with open(path, "rb") as file:
                line = file.readline().removeprefix(BOM).rstrip(b"\r\n").decode("utf-8")
            self.headers[path] = next(csv.reader([line], delimiter=self.op_config["delimiter"]), [])
        return self.headers[path]

    @staticmethod
    def parse_json(path: str, line: bytes):
        try:
            return json.loads(line)
        except ValueError as error:
            raise ValueError(f"{path}: invalid JSON line ({error}): {line[:200]!r}") from error


class FileExporter(BatchProcessor):
    """Writes each slice's records to `<path>/<ex_id>.<slice_id>.<jsonl|csv>` and passes them on.

    The file is written under a temporary name in the same directory and then renamed over the final
    name, so a failure leaves no partial file and a retry of the slice rewrites the same file. A slice
    with no records writes nothing.
    """

    def __init__(self, context):
        super().__init__(context)
        self.slice_id = None

    def on_slice_started(self, slice_id):
        self.slice_id = slice_id

    def on_batch(self, records):
        if not records:
            return records
        if self.slice_id is None:
            raise RuntimeError("file_exporter needs the slice id (Pipeline.run passes it)")
        directory = self.op_config["path"]
        os.makedirs(directory, exist_ok=True)
        extension = "csv" if self.op_config["format"] == "csv" else "jsonl"
        target = os.path.join(directory, f"{self.context.ex_id}.{self.slice_id}.{extension}")
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
                if extension == "csv":
                    self.write_csv(file, records)
                else:
                    file.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        return records

    def write_csv(self, file, records):
        fields = self.op_config["fields"] or list(dict.fromkeys(key for record in records for key in record))
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore", delimiter=",")
        writer.writeheader()
        for record in records:
            # Nested values are written as JSON rather than as Python's repr.
            writer.writerow(
                {key: json.dumps(value) if isinstance(value, dict | list) else value for key, value in record.items()}
            )


implement("file_reader", Reader(FileSlicer, FileFetcher))
implement("file_exporter", FileExporter)
