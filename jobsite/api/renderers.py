from rest_framework.renderers import JSONRenderer


class TerasliceJSONRenderer(JSONRenderer):
    """JSON as Teraslice sends it: 4-space indentation, `application/json; charset=utf-8`."""

    charset = "utf-8"

    def get_indent(self, accepted_media_type, renderer_context):
        return 4
