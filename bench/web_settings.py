"""Settings of the web benchmark's server: the product's own, with a URLconf that adds the baselines'
routes (bench/web_urls.py). Only `bench/web.py` loads it (DJANGO_SETTINGS_MODULE); the product's URLs
never have a hello route."""

from jobsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web_urls"
