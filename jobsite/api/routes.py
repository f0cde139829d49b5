"""Routes that match paths without regard to case, as Teraslice's (Express's defaults) do: /V1/Jobs is
/v1/jobs. Captured ids keep their case. The pattern text stays a plain regex, so reverse() and the OpenAPI
generator read it as usual."""

import re
from functools import cached_property, partial

from django.urls.conf import _path
from django.urls.resolvers import RegexPattern


class AnyCasePattern(RegexPattern):
    @cached_property
    def regex(self):
        return re.compile(self._regex, re.IGNORECASE)


# Django's own re_path() is this same partial with RegexPattern.
re_path_any_case = partial(_path, Pattern=AnyCasePattern)
