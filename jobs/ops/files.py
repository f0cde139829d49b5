"""file_reader and file_exporter: jobs that read and write local files, no external service needed.

file_reader cuts files into byte ranges. A slice `{path, start, end}` owns the lines whose first byte is in
[start, end): a line crossing `end` is read whole by this slice, and a line that began before `start` is
left to the previous slice. Every line is therefore read exactly once, whatever the slice size. Records
are one line each (csv values cannot span lines).

file_exporter writes each slice's records to its own file, named from the execution and slice ids, and
replaces it atomically, so a retried slice rewrites the same file and no reader ever sees half of one.

Both stay inside the file roots (`JOBSITE_FILE_ROOTS`). Validation refuses paths outside them; here, on
the worker, every file is checked again once it is open (and a folder once it is open, before a file is
written in it), so a symlink swapped in after validation leads nowhere else. Errors say what is wrong with
a file and where (file, line, byte offset), never what it holds: error records are readable by `monitor`.
"""

import bisect
import csv
import glob
import json
import os
import secrets
import stat

from jobs.ops.api import BatchProcessor, Fetcher, Reader, Slicer
from jobs.ops.options import file_roots, inside_roots
from jobs.ops.registry import implement
from jobsite.errors import Invalid

BOM = b"\xef\xbb\xbf"
BLANK = object()  # a blank line of a JSON lines file: no record


class OutsideFileRoots(PermissionError):
    pass


def _check_inside(real_path: str, path: str, roots: list[str]) -> None:
    if not inside_roots(real_path, roots):
        shown = path if real_path == path else f"{path} (that is {real_path or 'a file no longer there'})"
        raise OutsideFileRoots(f"{shown} is outside the file roots ({', '.join(roots)})")


def _opened_path(fd: int, path: str) -> str:
    """The real path of the file open as `fd` ("" when it cannot be told)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: the path's real path, if that is still the file open
        real = os.path.realpath(path)
        opened, now = os.fstat(fd), os.stat(real)
        return real if (opened.st_dev, opened.st_ino) == (now.st_dev, now.st_ino) else ""


def _open_checked(path: str, flags: int) -> int:
    """`os.open(path)`, if it is and stays inside the file roots."""
    roots = file_roots()
    _check_inside(os.path.realpath(path), path, roots)  # nothing outside is even opened...
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        _check_inside(_opened_path(fd, path), path, roots)  # ...nor read, if it changed since
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_for_reading(path: str):
    """`path` open for reading (binary), if it is a regular file inside the file roots."""
    fd = _open_checked(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO does not hang the open
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def matching_files(path: str) -> list[str]:
    """The regular files `path` names, sorted: a file, a glob, or a directory (its files not starting with
    "."). Each must be inside the file roots once symlinks are resolved."""
    if os.path.isdir(path):
        names = (os.path.join(path, name) for name in os.listdir(path) if not name.startswith("."))
    else:
        names = glob.glob(path, recursive=True)
    files = sorted(name for name in names if os.path.isfile(name))
    roots = file_roots()
    for name in files:
        _check_inside(os.path.realpath(name), name, roots)
    return files


def read_lines(path: str, start: int, end: int) -> tuple[int, list[bytes]]:
    """The lines of `path` whose first byte is in [start, end), without their line terminators, and the
    byte offset of the first of them."""
    with open_for_reading(path) as file:
        if start > 0:
            # Skip the rest of a line that began before `start` (only the "\n" if one ended right there).
            file.seek(start - 1)
            file.readline()
        begin = file.tell()
        if begin >= end:
            return begin, []
        data = file.read(end - begin)
        if not data.endswith(b"\n"):
            data += file.readline()
    if start == 0 and data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return begin, [line[:-1] if line.endswith(b"\r") else line for line in lines]


def line_position(path: str, begin: int, index: int) -> tuple[int, int]:
    """(line number, byte offset) in `path` of the `index`th line from the one starting at byte `begin`.
    Only errors need it, so it reads the file again rather than keep positions for every line."""
    with open_for_reading(path) as file:
        file.seek(begin)
        for _ in range(index):
            file.readline()
        offset = file.tell()
        file.seek(0)
        newlines, remaining = 0, offset
        while remaining > 0 and (chunk := file.read(min(remaining, 1 << 20))):
            newlines += chunk.count(b"\n")
            remaining -= len(chunk)
    return newlines + 1, offset


class BadLine(ValueError):
    """A line that is not what the format says, named by file, line and byte offset, without its content."""

    def __init__(self, path: str, begin: int, index: int, error: ValueError):
        line, offset = line_position(path, begin, index)
        if isinstance(error, UnicodeDecodeError):
            kind, detail = "UTF-8", f"byte {error.start + 1} of the line cannot be decoded"
        elif isinstance(error, json.JSONDecodeError):
            kind, detail = "JSON", f"{error.msg} at column {error.colno}"
        else:
            kind, detail = "", type(error).__name__
        super().__init__(f"{path}: invalid {kind + ' ' if kind else ''}line {line} (byte offset {offset}): {detail}")


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
        begin, lines = read_lines(path, start, request["end"])
        fmt = self.op_config["format"]
        if fmt == "json":
            return [record for record in self.parsed(path, begin, lines, json_line) if record is not BLANK]
        if fmt == "text":
            return [{"data": text} for text in self.parsed(path, begin, lines, decode)]
        fields = self.op_config["fields"]
        skipped = 0
        if fields is None:
            fields = self.header(path)
            if start == 0:
                skipped = 1
        rows = csv.DictReader(
            self.parsed(path, begin, lines, decode, skipped), fieldnames=fields, delimiter=self.op_config["delimiter"]
        )
        # Values past the last column land under None (DictReader's restkey): they have no name, drop them.
        return [{key: value for key, value in row.items() if key is not None} for row in rows]

    @staticmethod
    def parsed(path: str, begin: int, lines: list[bytes], parse, skipped: int = 0):
        """`parse` of each line from `skipped` on; a line it refuses is a `BadLine`."""
        for index in range(skipped, len(lines)):
            try:
                value = parse(lines[index])
            except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                raise BadLine(path, begin, index, error) from None  # its cause could quote the line
            yield value

    def header(self, path: str) -> list[str]:
        if path not in self.headers:
            with open_for_reading(path) as file:
                line = file.readline().removeprefix(BOM).rstrip(b"\r\n")
            [text] = self.parsed(path, 0, [line], decode)
            self.headers[path] = next(csv.reader([text], delimiter=self.op_config["delimiter"]), [])
        return self.headers[path]


def decode(line: bytes) -> str:
    return line.decode("utf-8")


def json_line(line: bytes):
    return json.loads(line) if line.strip() else BLANK


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
        _check_inside(os.path.realpath(directory), directory, file_roots())  # before creating any folder
        os.makedirs(directory, exist_ok=True)
        extension = "csv" if self.op_config["format"] == "csv" else "jsonl"
        target = f"{self.context.ex_id}.{self.slice_id}.{extension}"
        # Every name below is relative to the folder as it was opened and checked, whatever it becomes.
        folder = _open_checked(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            temporary = f".{secrets.token_hex(8)}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            descriptor = os.open(temporary, flags, 0o600, dir_fd=folder)
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
                    if extension == "csv":
                        self.write_csv(file, records)
                    else:
                        file.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, target, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                os.unlink(temporary, dir_fd=folder)
                raise
        finally:
            os.close(folder)
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
