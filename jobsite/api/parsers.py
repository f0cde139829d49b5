"""Request body parsers. Whatever a client sends, a body is read up to `JOBSITE_MAX_BODY_BYTES` only, and
what it parses to is checked before any view sees it (DESIGN.md rule 8): nesting no deeper than
`JOBSITE_MAX_JSON_DEPTH`, finite numbers, and text PostgreSQL can store (no NUL, no lone surrogates)."""

import json
import math
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings

from jobsite.api.errors import RequestTooLarge, UnacceptableBody, too_large_message
from jobsite.conf import conf

MALFORMED = "the json submitted is malformed"
# Characters no stored string may hold: NUL (PostgreSQL text and jsonb refuse it) and lone surrogates
# (JSON's "\ud800" escapes parse to them, but they are not unicode and cannot be encoded).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SHOWN_KEY_LENGTH = 64


def read_body(stream) -> bytes:
    """The whole body, refused (413) as soon as it is past the limit: never more than that is held."""
    limit = conf.max_body_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise RequestTooLarge(too_large_message(limit))
    return data


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes, encoding: str = "utf-8"):
    """Parse and check a JSON body: 400 for malformed JSON or for what `check_value` refuses."""
    try:
        text = data.decode(encoding)
        if api_settings.STRICT_JSON:
            value = json.loads(text, parse_constant=_reject_constant) if text else None
        else:
            value = json.loads(text) if text else None
    except RecursionError:  # Python's own parser gives up long before the body could end
        raise UnacceptableBody(too_deep_message()) from None
    except (ValueError, LookupError):  # LookupError: an unknown charset
        raise ParseError(MALFORMED) from None
    check_value(value)
    return value


def too_deep_message(path: str = "") -> str:
    where = f" at {path if len(path) <= 200 else path[:200] + '…'}" if path else ""
    return f"the json submitted nests deeper than {conf.max_json_depth} levels{where} (JOBSITE_MAX_JSON_DEPTH)"


def check_value(value) -> None:
    """Refuse (400, naming the field) nesting past the depth limit, non-finite numbers (`1e999`), NUL
    characters and lone surrogates anywhere in `value`, keys included. Iterative: depth costs no stack."""
    limit = conf.max_json_depth
    pending = [(value, "", 0)]
    while pending:
        node, path, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                raise UnacceptableBody(too_deep_message(path or "the top level"))
            if isinstance(node, dict):
                children = []
                for key, child in node.items():
                    child_path = f"{path}.{shown_key(key)}" if path else shown_key(key)
                    _check_text(key, child_path)
                    children.append((child, child_path, depth + 1))
            else:
                children = [(child, f"{path}[{index}]", depth + 1) for index, child in enumerate(node)]
            pending.extend(reversed(children))  # report the first problem in document order
        elif isinstance(node, str):
            _check_text(node, path)
        elif isinstance(node, float) and not math.isfinite(node):
            raise UnacceptableBody(f"{path or 'the body'}: number out of range")


def _check_text(text: str, path: str) -> None:
    if text.isascii() and "\x00" not in text:
        return
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    where = path or "the body"
    if found.group() == "\x00":
        raise UnacceptableBody(f"{where}: contains a NUL character (\\u0000), which cannot be stored")
    raise UnacceptableBody(f"{where}: contains invalid unicode (a lone surrogate \\u{ord(found.group()):04x})")


def shown_key(key: str) -> str:
    """A key as a message can show it: unstorable characters escaped, a long key cut short."""
    shown = _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", key)
    return shown if len(shown) <= _SHOWN_KEY_LENGTH else shown[:_SHOWN_KEY_LENGTH] + "…"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded and checked."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        return parse_json(read_body(stream), encoding)


class FormEncodedJSONParser(parsers.BaseParser):
    """Teraslice parses form-urlencoded bodies as JSON: that is what `curl -d@job.json` sends."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_json(read_body(stream))
