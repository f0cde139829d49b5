"""A pytest plugin loaded before Django's settings (see addopts).

The test servers speak plain HTTP on loopback, while production defaults to HTTPS when DEBUG is off. And
reading the settings starts no database, so without DATABASE_URL the test run attaches to the embedded
PostgreSQL here, as every entry point does, for itself and the servers and worker nodes it starts.
"""

import os

from jobsite.embedded import attach_unless_configured

os.environ.setdefault("JOBSITE_HTTPS", "false")
attach_unless_configured()
