"""axe-core (vendored) on every console page in a real Chromium: no serious or critical violations."""

import pytest

from jobs.models import Job
from tests.browser.conftest import accessibility_violations, assert_accessible
from tests.browser.test_console import SPEC, log_in
from tests.console.conftest import make_user


def test_the_login_page_is_accessible(page):
    page.goto("/console/login/")
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/console/jobs/", "/console/jobs/{job_id}/", "/console/audit/", "/console/tokens/"])
def test_each_page_is_accessible(page, path):
    make_user("operator", "manage")
    job = Job.objects.create(name=SPEC["name"], spec=SPEC)
    log_in(page, "operator")
    page.goto(path.format(job_id=job.job_id))
    assert_accessible(page)


def test_the_check_finds_what_it_must(page):
    """The checker itself: an image without a text alternative and an unlabelled field are found."""
    page.set_content('<html lang="en"><title>t</title><body><main><img src="x.png"><input></main></body></html>')
    found = {violation["id"] for violation in accessibility_violations(page)}
    assert {"image-alt", "label"} <= found, found
