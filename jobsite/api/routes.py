"""Routes that match paths without regard to case, as Teraslice's (Express's defaults) do: /V1/Jobs is
/v1/jobs. Captured ids keep their case. The pattern text stays a plain regex, so reverse() and the OpenAPI
generator read it as usual."""

import re
from functools import cached_property

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import RegexPattern


class AnyCasePattern(RegexPattern):
    @cached_property
    def regex(self):
        return re.compile(self._regex, re.IGNORECASE)


def re_path_any_case(regex: str, view, name: str | None = None):
    """Django's re_path(), matching in any case."""
    if isinstance(view, (list, tuple)):  # include(...)
        urlconf_module, app_name, namespace = view
        return URLResolver(AnyCasePattern(regex), urlconf_module, app_name=app_name, namespace=namespace)
    return URLPattern(AnyCasePattern(regex, name=name, is_endpoint=True), view, name=name)
