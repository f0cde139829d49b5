"""The benchmark's HTTP client: it drives the engine through the API only, as a Teraslice client does."""

from __future__ import annotations

import contextlib

import httpx

from bench import BenchError, wait_for
from jobs.lifecycle import TERMINAL

# What a misbehaving or vanished server can make a call raise.
API_ERRORS = (httpx.HTTPError, BenchError, ValueError, KeyError)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def answering(base: str) -> bool:
    """Whether the web server answers at all (any status)."""
    try:
        httpx.get(f"{base}/healthz", timeout=2)
    except httpx.TransportError:
        return False
    return True


class Api:
    """The admin user's HTTP Basic credentials on every request; remembers the executions it started."""

    def __init__(self, base: str, user: str, password: str):
        self.client = httpx.Client(base_url=base, auth=(user, password), timeout=30)
        self.started: list[str] = []

    def call(self, method: str, path: str, **kwargs):
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise BenchError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json()

    def submit(self, spec: dict, *, start: bool = True) -> dict:
        params = None if start else {"start": "false"}
        body = self.call("POST", "/v1/jobs", json=spec, params=params)
        if body.get("ex_id"):
            self.started.append(body["ex_id"])
        return body

    def start(self, job_id: str) -> str:
        ex_id = self.call("POST", f"/v1/jobs/{job_id}/_start")["ex_id"]
        self.started.append(ex_id)
        return ex_id

    def ex(self, ex_id: str) -> dict:
        return self.call("GET", f"/v1/ex/{ex_id}")

    def stop(self, ex_id: str, **params) -> dict:
        return self.call("POST", f"/v1/ex/{ex_id}/_stop", params=params)

    def history(self, ex_id: str) -> list[dict]:
        return self.call("GET", f"/v1/ex/{ex_id}/history")

    def wait_terminal(self, ex_id: str, timeout: float, interval: float = 0.1) -> dict:
        def ended():
            record = self.ex(ex_id)
            return record if record["_status"] in TERMINAL else None

        what = f"execution {ex_id} to end"
        return wait_for(ended, timeout=timeout, interval=interval, what=what)

    def force_stop_all(self):
        """Best effort at the end: no execution of ours keeps worker loops busy while the node stops."""
        for ex_id in self.started:
            # The server may be gone already; stopping the worker node ends the loops then.
            with contextlib.suppress(*API_ERRORS):
                record = self.call("GET", f"/v1/ex/{ex_id}", timeout=5)
                if record["_status"] not in TERMINAL:
                    params = {"force": "true", "blocking": "false"}
                    self.call("POST", f"/v1/ex/{ex_id}/_stop", params=params, timeout=5)

    def close(self):
        self.client.close()
