"""The README's walkthrough, run as written: its marked shell blocks, in order, against a live web server
and a real worker node, as a new user would paste them into one terminal.

A block follows a `<!-- readme-walkthrough: <step> -->` line. Each runs in bash (`set -euo pipefail`) with
the variables the earlier blocks exported, `$JOBSITE` pointed at the test server and `$JOBSITE_PASSWORD`
at the test admin's password: the two lines `make run` prints in its box. `curl` is the real one behind a
wrapper that keeps each call's status line and answer, so every call can be checked (2xx, and what the
README says it answers) without changing a command.
"""

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.models import Execution
from jobsite.management.commands.ensure_admin import password_box
from tests.conftest import ADMIN_PASSWORD, ROOT
from tests.engine.conftest import running_worker_loops

pytestmark = [pytest.mark.slow]

README = ROOT / "README.md"
STEPS = ["info", "submit", "status", "workers", "controller", "pause", "stop", "history", "tasks", "close"]
BLOCK = re.compile(r"^<!-- readme-walkthrough: (\S+) -->\n```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Long enough for a loaded machine; the README promises "a few seconds".
SETTLE_SECONDS = 60

CURL_WRAPPER = """#!/bin/bash
# The real curl; each call's arguments, response headers and answer are kept in $README_CURLS/<n>/.
set -o pipefail
call="$README_CURLS/$(date +%s%N)"
mkdir "$call"
printf '%s\\n' "$@" > "$call/args"
"$README_REAL_CURL" -D "$call/headers" "$@" | tee "$call/body"
"""


def walkthrough() -> list[tuple[str, str]]:
    """(step, code) of every marked block of the README, in order."""
    return BLOCK.findall(README.read_text())


@dataclass
class Call:
    args: list[str]
    status: int | None
    body: str

    def json(self):
        return json.loads(self.body)


@dataclass
class Ran:
    code: str
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]

    def explain(self) -> str:
        calls = "\n".join(f"  {call.status} curl {' '.join(call.args)}\n    {call.body[:500]}" for call in self.calls)
        return f"block:\n{self.code}\nexit {self.returncode}\nstderr:\n{self.stderr[-2000:]}\ncalls:\n{calls}"


class Terminal:
    """One shell session: each block starts from the variables the blocks before it exported."""

    def __init__(self, workdir: Path, base_url: str, password: str, real_curl: str):
        self.workdir = workdir
        self.exported = workdir / "exported.sh"
        self.exported.write_text("")
        self.curls = workdir / "curls"
        self.curls.mkdir()
        bin_dir = workdir / "bin"
        bin_dir.mkdir()
        (bin_dir / "curl").write_text(CURL_WRAPPER)
        (bin_dir / "curl").chmod(0o755)
        ids_free = {k: v for k, v in os.environ.items() if k not in ("JOB_ID", "EX_ID", "JOBSITE", "JOBSITE_PASSWORD")}
        self.env = {
            **ids_free,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "README_REAL_CURL": real_curl,
            "README_CURLS": str(self.curls),
            "JOBSITE": base_url,
            "JOBSITE_PASSWORD": password,
        }
        self.seen: set[str] = set()

    def run(self, code: str) -> Ran:
        script = f"set -euo pipefail\nsource {self.exported}\n{code}\nexport -p > {self.exported}\n"
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Ran(code, result.returncode, result.stdout, result.stderr, self._new_calls())

    def _new_calls(self) -> list[Call]:
        calls = []
        for name in sorted(os.listdir(self.curls), key=int):
            if name in self.seen:
                continue
            self.seen.add(name)
            call = self.curls / name
            headers = (call / "headers").read_text() if (call / "headers").exists() else ""
            statuses = re.findall(r"^HTTP/\S+ (\d{3})", headers, re.MULTILINE)  # the last is the answer's
            status = int(statuses[-1]) if statuses else None
            calls.append(Call((call / "args").read_text().splitlines(), status, (call / "body").read_text()))
        return calls


def run_block(terminal: Terminal, code: str) -> Ran:
    """Run the block; it must exit 0 and every curl in it must have been answered 2xx."""
    ran = terminal.run(code)
    curl_lines = [line for line in code.splitlines() if re.match(r"\s*curl\s", line)]
    assert ran.returncode == 0, ran.explain()
    assert len(ran.calls) == len(curl_lines), ran.explain()
    assert all(call.status is not None and 200 <= call.status < 300 for call in ran.calls), ran.explain()
    return ran


def run_until(terminal: Terminal, code: str, done, timeout: float = SETTLE_SECONDS) -> Ran:
    """Run the block again, as a user would, until `done(ran)`; every run must succeed."""
    deadline = time.monotonic() + timeout
    while True:
        ran = run_block(terminal, code)
        if done(ran):
            return ran
        assert time.monotonic() < deadline, f"not as the README says after {timeout}s:\n{ran.explain()}"
        time.sleep(0.5)


def test_the_readme_walkthrough_runs_as_written(engine, server, tmp_path):
    real_curl = shutil.which("curl")
    if not real_curl:
        pytest.fail("the README's walkthrough needs curl: apt-get install curl")
    steps = walkthrough()
    assert [step for step, _ in steps] == STEPS, "the README's walkthrough steps changed: update this test"
    code = dict(steps)
    terminal = Terminal(tmp_path, server, ADMIN_PASSWORD, real_curl)

    info = run_block(terminal, code["info"]).calls[0].json()
    assert info.keys() == readme_info_sample().keys()
    assert info["clustering_type"] == "native" and info["name"] == "jobsite"

    submitted = run_block(terminal, code["submit"]).calls[0].json()
    assert terminal.run('echo "$JOB_ID $EX_ID"').stdout.split() == [submitted["job_id"], submitted["ex_id"]]
    job_id, ex_id = submitted["job_id"], submitted["ex_id"]

    run_until(terminal, code["status"], lambda ran: ran.calls[0].json()["_status"] == "running")

    workers = run_block(terminal, code["workers"]).calls[0].json()
    assert workers == {"message": f"1 workers have been enqueued for execution: {ex_id}"}
    run_until(terminal, code["controller"], lambda ran: ran.calls[0].json()[0]["workers_active"] == 2)
    assert running_worker_loops(ex_id) == 2

    paused, resumed = run_block(terminal, code["pause"]).calls
    assert paused.json() == {"status": "paused"} and resumed.json() == {"status": "running"}

    stopped = run_block(terminal, code["stop"]).calls[0].json()
    assert stopped == {"status": "stopped"}
    assert Execution.objects.get(pk=ex_id).status == "stopped"

    history, jobs_table, executions_table = run_block(terminal, code["history"]).calls
    changes = [change["to"] for change in history.json()]
    assert changes[0] == "pending" and changes[-1] == "stopped", changes
    assert {"running", "paused"} <= set(changes), changes
    assert job_id in jobs_table.body and "generate" in jobs_table.body
    assert re.search(rf"\bstopped\s+{ex_id}\b", executions_table.body), executions_table.body

    started, tasks, cat = run_block(terminal, code["tasks"]).calls
    assert started.json() == {"started": True}
    restarted = Execution.objects.filter(job_id=job_id).exclude(pk=ex_id).get()
    execution_tasks = [
        task for task in tasks.json()["tasks"].values() if task["action"] == "cluster:admin/jobs/execution"
    ]
    assert any(f"execution [{restarted.ex_id}]" in task["description"] for task in execution_tasks), tasks.body
    assert (
        cat.body.split()[:9] == "action task_id parent_task_id type start_time timestamp running_time ip node".split()
    )

    closed, stats, opened = run_block(terminal, code["close"]).calls
    assert closed.json() == {"closed": True}
    assert stats.json() == {"jobs": [{"state": "closed"}]}
    assert opened.json() == {"opened": True, "node": ""}
    assert Execution.objects.get(pk=restarted.ex_id).status == "stopped"


def test_the_readme_shows_the_box_that_make_run_prints():
    """The password box pasted in the README is the one `ensure_admin` prints, so its `export` lines are
    the ones the walkthrough uses."""
    text = README.read_text()
    sample = re.search(r"^```\n(=+\n.*?^=+\n)```$", text, re.MULTILINE | re.DOTALL).group(1)
    password = re.search(r"with password '([^']+)'", sample).group(1)
    assert sample.strip("\n") == password_box("admin", password, 5678).strip("\n")
    assert "export JOBSITE=http://localhost:5678\n" in sample
    assert f"export JOBSITE_PASSWORD={password}\n" in sample


def readme_info_sample() -> dict:
    """The info object the README shows after its first curl line."""
    text = README.read_text()
    after = text[text.index("<!-- readme-walkthrough: info -->") :]
    return json.loads(re.search(r"^```json\n(.*?)^```$", after, re.MULTILINE | re.DOTALL).group(1))
