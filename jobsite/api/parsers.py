import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class FormEncodedJSONParser(BaseParser):
    """Teraslice parses form-urlencoded bodies as JSON: that is what `curl -d@job.json` sends."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json.loads(stream.read().decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            raise ParseError("the json submitted is malformed") from None
