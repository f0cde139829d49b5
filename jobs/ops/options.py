"""Option schemas of the built-in operations (spec/teraslice.md §2.2, §7), as DRF serializers.

A serializer here only declares types, defaults and ranges; `jobs.validation` runs it and turns its errors
into Teraslice's messages. The field helpers are shared with the job-level schema, so one vocabulary
("must be valid integer greater than zero", durations in ms...) is used everywhere. Every number has a
range (DESIGN.md rule 8): the limits below are the documented ones (README, "Limits").
"""

import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from rest_framework import serializers

from jobsite.conf import conf, paths_of

# Limits of the values a job may hold.
NAME_LENGTH = 255  # names: operations, apis, dead-letter actions (and the job's own, its column's length)
PATH_LENGTH = 4096  # PATH_MAX
MAX_SLICE_RECORDS = 100_000  # `size` of the last operation (the records of a slice), records `collect` holds
MAX_SAFE_INTEGER = 2**53 - 1  # totals: the largest whole number every JSON client reads exactly
MAX_FILE_SLICE_BYTES = 10_000_000  # file_reader: bytes per slice
MAX_DELAY_MS = 86_400_000  # one day: `delay` ms, `collect` wait, data_generator delay

# Units of a duration string, in milliseconds ("5 minutes", "100ms", "2s", "1 day").
DURATION_UNITS = {
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 1),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1_000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
    **dict.fromkeys(("w", "week", "weeks"), 604_800_000),
}
DURATION_PATTERN = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")


class DurationField(serializers.Field):
    """A duration in milliseconds, at most `max_value`: a non-negative integer, or a string such as
    "5 minutes", "100ms", "2s"."""

    default_error_messages = {
        "invalid": 'must be a non-negative integer of milliseconds or a duration such as "5 minutes" (got "{input}")',
        "unit": 'unknown duration unit "{unit}" (use ms, s, m, h, d or w, or their long names)',
        "max_value": "must be at most {max_value} milliseconds",
    }

    def __init__(self, *, max_value: int, **kwargs):
        super().__init__(**kwargs)
        self.max_value = max_value

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid", input=data)
        if isinstance(data, int | float):
            if data < 0 or (isinstance(data, float) and not data.is_integer()):
                self.fail("invalid", input=data)
            return self.in_range(int(data))
        if not isinstance(data, str) or not (match := DURATION_PATTERN.match(data)):
            self.fail("invalid", input=data[:100] if isinstance(data, str) else data)
        amount, unit = match.groups()
        if unit and unit.lower() not in DURATION_UNITS:
            self.fail("unit", unit=unit[:20])
        if len(amount.lstrip("0")) > len(str(self.max_value)):  # out of range, and int() balks at some
            self.fail("max_value", max_value=self.max_value)
        return self.in_range(int(amount) * DURATION_UNITS[unit.lower()] if unit else int(amount))

    def in_range(self, milliseconds: int) -> int:
        if milliseconds > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return milliseconds

    def to_representation(self, value):
        return value


class StringField(serializers.CharField):
    """A string that must be a string: unlike DRF's CharField it does not turn numbers into text."""

    default_error_messages = {
        "invalid": "must be a string",
        "blank": "must not be empty",
        "null": "must be a string, not null",
        "required": "is required",
        "max_length": "must be at most {max_length} characters",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NumberField(serializers.FloatField):
    """A finite JSON number; integral values stay integers so configs read back as they were written."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return int(value) if value.is_integer() else value


def file_roots() -> list[str]:
    """The folders file operations may use (`JOBSITE_FILE_ROOTS`), symlinks resolved."""
    raw = conf.file_roots or str(Path(settings.DATA_DIR) / "files")
    return [os.path.realpath(root) for root in paths_of(raw)]


def inside_roots(real_path: str, roots: list[str]) -> bool:
    return bool(real_path) and any(os.path.commonpath([real_path, root]) == root for root in roots)


GLOB_MAGIC = re.compile(r"[*?[]")


def literal_part(path: str) -> str:
    """The folders of a glob before its first wildcard (all of `path` when it has none)."""
    parts = path.split(os.sep)
    for index, part in enumerate(parts):
        if GLOB_MAGIC.search(part):
            return os.sep.join(parts[:index]) or os.sep
    return path


class PathField(StringField):
    """A path (with `pattern`, a glob) inside the file roots, after `..` and symlinks are resolved. A relative
    path is taken from the first root. The value is the absolute path, `..` collapsed: the worker opens that
    (and checks it again, see jobs/ops/files.py)."""

    default_error_messages = {"outside": "{path} is outside the file roots ({roots}; JOBSITE_FILE_ROOTS sets them)"}

    def __init__(self, *, pattern: bool = False, **kwargs):
        kwargs.setdefault("max_length", PATH_LENGTH)
        super().__init__(**kwargs)
        self.pattern = pattern

    def to_internal_value(self, data):
        path = super().to_internal_value(data)
        if len(path) > self.max_length:  # before it is resolved, not after (as validators would)
            self.fail("max_length", max_length=self.max_length)
        roots = file_roots()
        absolute = os.path.normpath(os.path.join(roots[0], path))
        checked = literal_part(absolute) if self.pattern else absolute
        if not inside_roots(os.path.realpath(checked), roots):
            self.fail("outside", path=path, roots=", ".join(roots))
        return absolute


class DateField(serializers.Field):
    """An optional date: an ISO 8601 string or epoch milliseconds, kept as an ISO 8601 UTC string."""

    default_error_messages = {"invalid": 'value "{input}" cannot be coerced into a proper date'}

    def to_internal_value(self, data):
        try:
            if isinstance(data, bool):
                raise ValueError
            if isinstance(data, int | float):
                moment = datetime.fromtimestamp(data / 1000, UTC)
            elif isinstance(data, str):
                moment = datetime.fromisoformat(data)
            else:
                raise ValueError
        except (ValueError, OverflowError, OSError):
            self.fail("invalid", input=data)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_representation(self, value):
        return value


def positive_int(*, max_value: int, **kwargs):
    return _int_field(1, max_value, "must be valid integer greater than zero", **kwargs)


def natural_int(*, max_value: int, **kwargs):
    return _int_field(0, max_value, "must be valid integer greater than or equal to zero", **kwargs)


def _int_field(min_value: int, max_value: int, message: str, **kwargs):
    messages = {"invalid": message, "min_value": message, "max_value": "must be at most {max_value}"}
    messages["max_string_length"] = message
    return serializers.IntegerField(min_value=min_value, max_value=max_value, error_messages=messages, **kwargs)


def boolean(default):
    return serializers.BooleanField(default=default, error_messages={"invalid": "must be a boolean"})


def choice(values, **kwargs):
    message = f'must be one of {", ".join(values)} (got "{{input}}")'
    return serializers.ChoiceField(values, error_messages={"invalid_choice": message}, **kwargs)


def optional_string():
    return StringField(allow_null=True, default=None)


def name_string(**kwargs):
    return StringField(max_length=NAME_LENGTH, **kwargs)


def string_list(**kwargs):
    return serializers.ListField(
        child=StringField(), error_messages={"not_a_list": "must be a list of strings"}, **kwargs
    )


class OperationOptions(serializers.Serializer):
    """Fields every operation has (spec §2.2). `_api_name` is checked against the job's `apis` by the caller."""

    _op = name_string()
    _encoding = choice(["json", "raw"], default="json")
    # throw | log | none | the name of a dead-letter API.
    _dead_letter_action = name_string(default="throw")
    _api_name = name_string(required=False)
    # The job's last operation's `size` is its slice size, in records (as in Teraslice); others declare their own.
    size = positive_int(max_value=MAX_SLICE_RECORDS, required=False)


class ApiOptions(serializers.Serializer):
    """Fields every entry of a job's `apis` has (spec §2.2); uniqueness of `_name` is a job-level rule."""

    _name = name_string()
    _encoding = choice(["json", "raw"], required=False)
    _dead_letter_action = name_string(default="throw")


class DataGeneratorOptions(OperationOptions):
    # Records of a `once` job, in all.
    size = positive_int(default=5000, max_value=MAX_SAFE_INTEGER)
    json_schema = optional_string()
    start = DateField(allow_null=True, default=None)
    end = DateField(allow_null=True, default=None)
    format = choice(["dateNow", "isoBetween", "utcDate", "utcBetween"], allow_null=True, default=None)
    stress_test = boolean(False)
    # Seconds a worker waits before finishing each slice.
    delay = NumberField(
        min_value=0,
        max_value=MAX_DELAY_MS // 1000,
        default=0,
        error_messages={
            "invalid": "must be a number",
            "min_value": "must not be negative",
            "max_value": "must be at most {max_value} seconds",
        },
    )
    date_key = StringField(default="created")
    set_id = choice(["base64url", "hexadecimal", "HEXADECIMAL"], allow_null=True, default=None)
    id_start_key = optional_string()

    def validate(self, attrs):
        if attrs["id_start_key"] and not attrs["set_id"]:
            raise serializers.ValidationError({"id_start_key": "must be used with set_id, which is not set"})
        if attrs["stress_test"] and attrs["delay"] != 0:
            raise serializers.ValidationError({"delay": "must be 0 while stress_test is true"})
        if attrs["start"] and attrs["end"] and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": "must be before end"})
        return attrs


class NoopOptions(OperationOptions):
    pass


class DelayOptions(OperationOptions):
    ms = DurationField(default=100, max_value=MAX_DELAY_MS)


class CollectOptions(OperationOptions):
    size = positive_int(allow_null=True, default=None, max_value=MAX_SLICE_RECORDS)
    wait = DurationField(allow_null=True, default=None, max_value=MAX_DELAY_MS)


class TestReaderOptions(OperationOptions):
    fetcher_data_file_path = PathField(allow_null=True, default=None)
    slicer_data_file_path = PathField(allow_null=True, default=None)
    passthrough_slice = boolean(False)


class StdoutOptions(OperationOptions):
    # 0 prints every record of the batch.
    limit = natural_int(default=0, max_value=MAX_SLICE_RECORDS)


class FileReaderOptions(OperationOptions):
    # A file path, a glob or a directory, inside the file roots.
    path = PathField(pattern=True)
    # json = one JSON document per line.
    format = choice(["json", "csv", "text"], default="json")
    # Slices are byte ranges of the files: bytes per slice.
    size = positive_int(default=1_000_000, max_value=MAX_FILE_SLICE_BYTES)
    # csv: column names; null takes them from each file's header row.
    fields = string_list(allow_null=True, default=None)
    delimiter = StringField(default=",", max_length=1, error_messages={"max_length": "must be a single character"})


class FileExporterOptions(OperationOptions):
    # The directory the files are written to, inside the file roots.
    path = PathField()
    format = choice(["json", "csv"], default="json")
    # csv: the columns to write, in order.
    fields = string_list(allow_null=True, default=None)
