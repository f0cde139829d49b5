"""An asset operation's options schema (its `operation.json` `options`), as data, turned into a DRF
serializer the web server validates jobs with: the bundle's code is never imported there.

A schema maps option names to `{"type": "string"|"integer"|"number"|"boolean"|"object"|"array",
"default"?, "minimum"?, "maximum"?, "max_length"?, "enum"?, "required"?, "description"?}`. Defaults are
filled; an option without a default that is not required is null when absent. Options the schema does not
declare are kept as they are (Teraslice's convict schemas ignore them too). Messages use the vocabulary of
the built-in operations' options (jobs/ops/options.py).
"""

import math

from rest_framework import serializers

TYPES = ("string", "integer", "number", "boolean", "object", "array")
KEYS = {"type", "default", "minimum", "maximum", "max_length", "enum", "required", "description"}
MAX_OPTIONS = 200  # options one operation declares


def schema_problems(options) -> list[str]:
    """What is wrong with an options schema, as messages (empty when it is usable)."""
    if not isinstance(options, dict):
        return ["options must be an object of option name → schema"]
    if len(options) > MAX_OPTIONS:
        return [f"at most {MAX_OPTIONS} options, got {len(options)}"]
    problems = []
    for name, spec in options.items():
        if not isinstance(spec, dict):
            problems.append(f"{name}: must be an object")
            continue
        if spec.get("type") not in TYPES:
            problems.append(f"{name}: type must be one of {', '.join(TYPES)}")
        if unknown := sorted(set(spec) - KEYS):
            problems.append(f"{name}: unknown schema keys {', '.join(unknown)}")
        for key in ("minimum", "maximum"):
            if key in spec and not _is_number(spec[key]):
                problems.append(f"{name}: {key} must be a number")
        if "max_length" in spec and not (isinstance(spec["max_length"], int) and spec["max_length"] >= 0):
            problems.append(f"{name}: max_length must be a non-negative integer")
        if "enum" in spec and not (isinstance(spec["enum"], list) and spec["enum"]):
            problems.append(f"{name}: enum must be a non-empty array")
        if "required" in spec and not isinstance(spec["required"], bool):
            problems.append(f"{name}: required must be a boolean")
    return problems


def options_serializer(options: dict, base: type[serializers.Serializer] = serializers.Serializer):
    """A serializer class for `options` (a usable schema, see `schema_problems`), extending `base`."""
    fields = {name: SchemaField(spec) for name, spec in options.items()}
    return type("AssetOperationOptions", (base,), fields)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _type_of(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


class SchemaField(serializers.Field):
    """One option of a schema: its type, range, length and allowed values."""

    default_error_messages = {
        "required": "is required",
        "null": "must not be null",
        "type": "must be {article} {type} (got {got})",
        "minimum": "must be at least {minimum}",
        "maximum": "must be at most {maximum}",
        "max_length": "must be at most {max_length} {unit}",
        "enum": 'must be one of {values} (got "{input}")',
    }

    def __init__(self, spec: dict):
        self.spec = spec
        required = bool(spec.get("required"))
        if required:
            super().__init__(required=True, allow_null=False)
        else:
            super().__init__(default=spec.get("default"), allow_null="default" not in spec or spec["default"] is None)

    def to_internal_value(self, data):
        kind = self.spec["type"]
        if not self._has_type(data, kind):
            article = "an" if kind[0] in "aeiou" else "a"
            self.fail("type", article=article, type=kind, got=_type_of(data))
        if kind in ("integer", "number"):
            if "minimum" in self.spec and data < self.spec["minimum"]:
                self.fail("minimum", minimum=self.spec["minimum"])
            if "maximum" in self.spec and data > self.spec["maximum"]:
                self.fail("maximum", maximum=self.spec["maximum"])
            if kind == "integer":
                data = int(data)
        if kind in ("string", "array") and "max_length" in self.spec and len(data) > self.spec["max_length"]:
            unit = "characters" if kind == "string" else "items"
            self.fail("max_length", max_length=self.spec["max_length"], unit=unit)
        if "enum" in self.spec and data not in self.spec["enum"]:
            shown = str(data)[:100]
            self.fail("enum", values=", ".join(str(value) for value in self.spec["enum"]), input=shown)
        return data

    def to_representation(self, value):
        return value

    @staticmethod
    def _has_type(data, kind: str) -> bool:
        if kind == "string":
            return isinstance(data, str)
        if kind == "integer":
            return _is_number(data) and float(data).is_integer()
        if kind == "number":
            return _is_number(data)
        if kind == "boolean":
            return isinstance(data, bool)
        if kind == "object":
            return isinstance(data, dict)
        return isinstance(data, list)
