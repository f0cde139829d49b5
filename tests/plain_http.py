"""A pytest plugin loaded before Django's settings (see addopts): the test servers speak plain HTTP on
loopback, while production defaults to HTTPS when DEBUG is off."""

import os

os.environ.setdefault("JOBSITE_HTTPS", "false")
