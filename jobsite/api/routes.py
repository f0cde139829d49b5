"""Route patterns of our own: routes that match paths without regard to case, as Teraslice's (Express's
defaults) do (/V1/Jobs is /v1/jobs; captured ids keep their case), and a group mounted at the root that
only paths with a given start may enter. The pattern text stays what Django's own would be, so reverse()
and the OpenAPI generator read it as usual."""

import re
from functools import cached_property

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import RegexPattern, RoutePattern


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


class StartingWith(RoutePattern):
    """An include's empty prefix that lets in only the paths starting with `start`. Django tries patterns
    in order, so every other path skips the whole group in one test instead of trying each of its routes."""

    def __init__(self, start: str):
        super().__init__("", is_endpoint=False)
        self.start = start

    def match(self, path):
        return (path, (), {}) if path.startswith(self.start) else None


def include_starting_with(start: str, view):
    """`path("", include(...))` for a group whose every route starts with `start`."""
    urlconf_module, app_name, namespace = view
    return URLResolver(StartingWith(start), urlconf_module, app_name=app_name, namespace=namespace)
