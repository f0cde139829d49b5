"""A real Chromium (Debian's package, driven by Playwright) against the live test server.

CI installs Chromium (.ci/run); Playwright never downloads a browser of its own. Screenshots land in
var/screenshots/ for a person to look at.
"""

import os
import shutil
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# As root in a container Chromium needs --no-sandbox; the rest keep it off this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is open, which
# Django's async-safety check would see in every later test's database access.
@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("JOBSITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is needed for the console tests: apt-get install chromium (or set JOBSITE_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, server, monkeypatch):
    # The test's own ORM calls run beside Playwright's loop; they are plain synchronous calls all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = chromium.new_context(base_url=server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"  # axe-core, vendored (MPL-2.0)
BLOCKING_IMPACTS = ("serious", "critical")


def accessibility_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2 A/AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


def assert_accessible(page) -> None:
    violations = accessibility_violations(page)
    assert not violations, f"{page.url}: {violations}"


DOCS = Path(__file__).resolve().parents[2] / "docs"


def readme_picture(page, name: str, max_bytes: int = 150_000) -> Path:
    """The README's picture of a page: the 1280x800 viewport as a person first sees it, in var/screenshots/;
    copied into docs/ (the committed copy) only when JOBSITE_README_PICTURES=1, so a test run leaves the
    checkout as it found it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path)
    assert path.stat().st_size < max_bytes, f"{name}.png is {path.stat().st_size} bytes"
    if os.environ.get("JOBSITE_README_PICTURES") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / f"{name}.png")
    return path
