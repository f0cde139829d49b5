"""The upload route reads its body itself, in blocks (the zip may be 100 MB)."""

from rest_framework.parsers import BaseParser


class UnreadBody(BaseParser):
    """Parses any body to nothing, without reading it: DRF parses a body whenever something asks for
    `request.POST` or `request.data` (its CSRF check of session clients does), and the view must find the
    body unread."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}
