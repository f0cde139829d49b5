"""Job validation (spec/teraslice.md §2): from a submitted job spec to the config an execution runs.

A job is stored exactly as submitted; only executions store the validated config, in which every default
is filled in. Unknown keys, of the job and of its operations, are allowed and kept as they are.
Failures raise `Invalid` with Teraslice's messages (HTTP 400 here, spec/jobsite.md §6).
"""

import copy
import os
from dataclasses import dataclass, field

from rest_framework import serializers
from rest_framework.settings import api_settings

from assets.models import Asset
from assets.resolution import matches, resolve
from assets.schema import options_serializer, schema_problems
from jobs.ops.options import (
    NAME_LENGTH,
    ApiOptions,
    DurationField,
    OperationOptions,
    StringField,
    boolean,
    choice,
    natural_int,
    positive_int,
)
from jobs.ops.registry import Kind, Operation, get_operation, is_registered
from jobsite.errors import Invalid

# Keys the server owns on a job record; a submitted or updated body never sets them.
JOB_META_KEYS = ("job_id", "_context", "_created", "_updated", "_deleted", "_deleted_on", "state")

OPERATIONS_MESSAGE = "Operations need to be of type array with at least two operations in it"
LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"]

# Limits of a job (DESIGN.md rule 8; README, "Limits").
MAX_WORKERS = 10_000
MAX_SLICERS = 100
MAX_RETRIES = 100
MAX_PROBATION_MS = 7 * 86_400_000  # a week
MAX_OPERATIONS = 100  # operations, and apis, of one job


@dataclass(frozen=True)
class ValidatedJob:
    config: dict
    # Teraslice's shape: {"type": "JobValidation", "reason": {"type": ..., "kind": "deprecation", "reason": {...}}}.
    # Nothing is deprecated yet, so it is empty.
    warnings: list = field(default_factory=list)


def without_meta(spec: dict) -> dict:
    """The spec without the keys the server owns."""
    return {key: value for key, value in spec.items() if key not in JOB_META_KEYS}


def job_body(spec) -> dict:
    """The posted job, as it is stored: an object with `operations`, without server-owned keys."""
    if not isinstance(spec, dict) or "operations" not in spec:
        raise Invalid("No job was posted")
    return without_meta(spec)


def validate_job(spec: dict) -> ValidatedJob:
    """Check `spec` (a job object with `operations`) and return its config with every default filled in.

    Raises `Invalid` on the first part that fails: the job's own fields, its assets, then each api, then each
    operation. `spec` itself is never modified. As in Teraslice, the config's `assets` are the resolved asset
    ids (the job keeps the references as written) and an `op@asset` operation is named `op@<asset id>`.
    """
    spec = copy.deepcopy(spec)
    job = JobSerializer(data=spec)
    if not job.is_valid():
        raise Invalid(
            f"Validation failed for job config: {shown(spec.get('name', 'Custom Job'))} - {describe(job.errors)}"
        )
    config = {**spec, **job.validated_data}
    assets = resolve(config["assets"]) if config["assets"] else []
    config["apis"] = [validate_api(api) for api in config["apis"]]
    api_names = {api["_name"] for api in config["apis"]}
    config["operations"] = [
        validate_operation(op, index, api_names, assets) for index, op in enumerate(config["operations"])
    ]
    if config["assets"] is not None:
        config["assets"] = [asset.id for asset in assets]
    return ValidatedJob(config)


def validate_api(api: dict) -> dict:
    options = ApiOptions(data=api)
    if not options.is_valid():
        raise Invalid(f"Validation failed for api config: {shown(api['_name'])} - {describe(options.errors)}")
    return {**api, **options.validated_data}


def validate_operation(op: dict, index: int, api_names: set[str], assets: list[Asset] = ()) -> dict:
    """Validate the operation at `index` of a job whose apis are called `api_names` and whose `assets` are
    the resolved ones."""
    name = op.get("_op")
    if not isinstance(name, str) or not name:
        raise invalid_operation(f"operations[{index}]", "_op: is required and must be a string")
    if len(name) > NAME_LENGTH:
        raise invalid_operation(f"operations[{index}]", f"_op: must be at most {NAME_LENGTH} characters")
    operation, name = find_operation(name, assets)
    if index == 0 and operation.kind != Kind.READER:
        raise invalid_operation(name, f"the first operation must be a reader, {name} is a processor")
    if index > 0 and operation.kind == Kind.READER:
        raise invalid_operation(
            name, f"{name} is a reader, it can only be the first operation (found at index {index})"
        )
    options = operation.options(data=op)
    if not options.is_valid():
        raise invalid_operation(name, describe(options.errors))
    api_name = options.validated_data.get("_api_name")
    if api_name is not None and api_name not in api_names:
        raise invalid_operation(name, f"Could not find the associated api for {api_name}")
    return {**op, **options.validated_data, "_op": name}


def find_operation(name: str, assets: list[Asset]) -> tuple[Operation, str]:
    """The operation `name` means, and its name in the execution's config.

    `op@ref` is the operation of the one listed asset that `ref` (a name, `name:range` or id) names,
    renamed `op@<asset id>`; a plain name is a built-in, else the operation of the one listed asset that
    has it (spec §2.2).
    """
    base, at, reference = name.partition("@")
    if at:
        picked = [asset for asset in assets if matches(asset, reference)]
        if len(picked) != 1:
            which = "none" if not picked else f"more than one ({labels(picked)})"
            raise invalid_operation(
                name, f'"{reference}" must name one of the job\'s assets ({labels(assets) or "none"}), it names {which}'
            )
        if base not in picked[0].operations:
            raise Invalid(f"Unable to find module for operation: {base} (searched asset {label(picked[0])})")
        return asset_operation(picked[0], base), f"{base}@{picked[0].id}"
    if is_registered(name):
        return get_operation(name), name
    holders = [asset for asset in assets if name in asset.operations]
    if len(holders) > 1:
        raise Invalid(
            f'Multiple assets containing the same processor name _op: "{name}", please specify which specific '
            f"asset to use on its name (found in {labels(holders)}; write {name}@<asset name, name:version or id>)"
        )
    if not holders:
        searched = f" (searched the job's assets: {labels(assets)})" if assets else ""
        raise Invalid(f"Unable to find module for operation: {name}{searched}")
    return asset_operation(holders[0], name), name


def asset_operation(asset: Asset, name: str) -> Operation:
    """The operation `name` of `asset`, from its operation.json as stored at upload (never its code)."""
    declared = asset.operations[name]
    kind = declared.get("kind") if isinstance(declared, dict) else None
    options = declared.get("options", {}) if isinstance(declared, dict) else None
    problems = schema_problems(options)
    if kind not in tuple(Kind):
        problems.insert(0, f'kind must be "reader" or "processor", got {shown(kind)}')
    if problems:
        raise invalid_operation(name, f"the operation.json of asset {label(asset)} is unusable: {'; '.join(problems)}")
    return Operation(name, Kind(kind), options_serializer(options, base=OperationOptions))


def label(asset: Asset) -> str:
    return f"{asset.name}:{asset.version} ({asset.id})"


def labels(assets: list[Asset]) -> str:
    return ", ".join(label(asset) for asset in assets)


def invalid_operation(name: str, details: str) -> Invalid:
    return Invalid(f"Validation failed for operation config: {name} - {details}")


def shown(name) -> str:
    """A submitted name as a message quotes it: cut short when it is longer than a name may be."""
    text = str(name)
    return text if len(text) <= NAME_LENGTH else f"{text[:64]}… ({len(text)} characters)"


class NonEmptyMappingField(serializers.Field):
    """An object whose keys and values are all non-empty (`env_vars`, `labels`)."""

    default_error_messages = {
        "invalid": "must be object",
        "key": "key must be not empty",
        "value": 'value for key "{name}" must be not empty',
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        for key, value in data.items():
            if key == "":
                self.fail("key")
            if value is None or value == "":
                self.fail("value", name=key)
        return data

    def to_representation(self, value):
        return value


def default_workers() -> int:
    return min(os.cpu_count() or 1, 5)


class JobSerializer(serializers.Serializer):
    """The job's own fields (spec §2.1). Operations and apis are only checked for shape here;
    `validate_operation` and `validate_api` check their content."""

    name = StringField(default="Custom Job", max_length=NAME_LENGTH)
    lifecycle = choice(["once", "persistent"], default="once")
    workers = positive_int(default=default_workers, max_value=MAX_WORKERS)
    slicers = positive_int(default=1, max_value=MAX_SLICERS)
    operations = serializers.JSONField(error_messages={"required": OPERATIONS_MESSAGE, "null": OPERATIONS_MESSAGE})
    apis = serializers.JSONField(default=list, error_messages={"null": "APIs is required to be an array"})
    assets = serializers.JSONField(allow_null=True, default=None)
    analytics = boolean(True)
    active = boolean(True)
    autorecover = boolean(False)
    max_retries = natural_int(default=3, max_value=MAX_RETRIES)
    probation_window = DurationField(default=300_000, max_value=MAX_PROBATION_MS)
    stateful = boolean(False)
    env_vars = NonEmptyMappingField(default=dict)
    labels = NonEmptyMappingField(allow_null=True, default=None)
    log_level = choice(LOG_LEVELS, allow_null=True, default=None)
    # Jobsite: close the job, with full housekeeping, when an execution completes (spec/jobsite.md §3).
    close_on_complete = boolean(False)

    def validate_operations(self, value):
        if not isinstance(value, list) or len(value) < 2:
            raise serializers.ValidationError(OPERATIONS_MESSAGE)
        if len(value) > MAX_OPERATIONS:
            raise serializers.ValidationError(f"at most {MAX_OPERATIONS} operations, got {len(value)}")
        for op in value:
            if not isinstance(op, dict):
                raise serializers.ValidationError(f"Invalid Operation config in operations, got {type_of(op)}")
        return value

    def validate_apis(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("APIs is required to be an array")
        if len(value) > MAX_OPERATIONS:
            raise serializers.ValidationError(f"at most {MAX_OPERATIONS} apis, got {len(value)}")
        names = set()
        for api in value:
            if not isinstance(api, dict):
                raise serializers.ValidationError(f"Invalid API config in apis, got {type_of(api)}")
            if not api.get("_name"):
                raise serializers.ValidationError("API requires an _name")
            if not isinstance(api["_name"], str):
                raise serializers.ValidationError(f"API _name must be a string, got {type_of(api['_name'])}")
            if api["_name"] in names:
                raise serializers.ValidationError(f"Duplicate API configurations for {api['_name']} found")
            names.add(api["_name"])
        return value

    def validate_assets(self, value):
        if value is not None:
            if not isinstance(value, list):
                raise serializers.ValidationError("assets need to be of type array")
            if not all(isinstance(asset, str) for asset in value):
                raise serializers.ValidationError("assets needs to be an array of strings")
        return value


def type_of(value) -> str:
    """The JSON type name of a parsed JSON value, for messages."""
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def describe(errors, path: str = "") -> str:
    """DRF's error structure as one line: `workers: must be valid integer greater than zero; lifecycle: ...`."""
    return "; ".join(_messages(errors, path))


def _messages(errors, path: str):
    if isinstance(errors, dict):
        for key, nested in errors.items():
            yield from _messages(nested, path if key == api_settings.NON_FIELD_ERRORS_KEY else _join(path, key))
    elif isinstance(errors, list):
        for nested in errors:
            yield from _messages(nested, path)
    else:
        yield f"{path}: {errors}" if path else str(errors)


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)
