"""Jobs whose operations come from asset bundles, run through a real worker node: the bundle is built
here, uploaded, unpacked on the node, and its processor transforms the records that a file_exporter writes."""

import io
import json
import zipfile
from pathlib import Path

from tests.conftest import ROOT
from tests.engine.conftest import start_job, wait_for_status

EXAMPLE = ROOT / "examples" / "assets"

SHOUT = """
from jobs.ops.api import MapProcessor
from loudness import louder  # vendored in the bundle: vendor/loudness.py


class Processor(MapProcessor):
    def map(self, record):
        return {**record, "name": louder(record["name"]), self.op_config["mark"]: True}
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in files.items():
            bundle.writestr(name, text)
    return buffer.getvalue()


def folder_files(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): path.read_text() for path in sorted(folder.rglob("*")) if path.is_file()}


def store(api, data: bytes) -> str:
    """Upload a bundle (POST /v1/assets, the zip as the body); returns its id."""
    response = api.post("/v1/assets", content=data, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    return response.json()["asset_id"]


def exported(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.iterdir()) for line in path.read_text().splitlines()]


SHOUTER = {
    "asset.json": json.dumps({"name": "shouter", "version": "0.1.0"}),
    "shout/operation.json": json.dumps(
        {"kind": "processor", "options": {"mark": {"type": "string", "default": "shouted"}}}
    ),
    "shout/__init__.py": SHOUT,
    "vendor/loudness.py": "def louder(text):\n    return text.upper()\n",
}


def test_a_processor_from_an_asset_transforms_the_records(engine, worker_node, tmp_path):
    asset_id = store(engine, zipped(SHOUTER))
    out = tmp_path / "out"
    ex_id = start_job(
        engine,
        {
            "name": "shouting",
            "workers": 1,
            "assets": ["shouter"],
            "operations": [
                {"_op": "test-reader"},
                {"_op": "shout", "mark": "loud"},
                {"_op": "file_exporter", "path": str(out)},
            ],
        },
    )
    wait_for_status(engine, ex_id, "completed")
    records = exported(out)
    assert len(records) == 10 * 187  # test-reader: 10 slices of its 187 records
    assert all(record["name"] == record["name"].upper() and record["loud"] is True for record in records)
    assert (worker_node.data_dir / "assets" / asset_id / "shout" / "__init__.py").is_file()


def test_the_execution_records_the_assets_it_uses(engine, worker_node, tmp_path):
    asset_id = store(engine, zipped(SHOUTER))
    spec = {
        "name": "shouting",
        "assets": ["shouter:^0.1"],
        "operations": [{"_op": "test-reader"}, {"_op": "shout"}, {"_op": "file_exporter", "path": str(tmp_path)}],
    }
    ex_id = start_job(engine, spec)
    record = engine.get(f"/v1/ex/{ex_id}").json()
    assert record["assets"] == [asset_id]
    assert engine.get(f"/v1/jobs/{record['job_id']}").json()["assets"] == ["shouter:^0.1"]
    wait_for_status(engine, ex_id, "completed")


def test_the_example_asset_runs_its_documented_job(engine, worker_node, tmp_path):
    store(engine, zipped(folder_files(EXAMPLE / "greetings")))
    spec = json.loads((EXAMPLE / "greetings-job.json").read_text())
    spec["operations"][-1]["path"] = str(tmp_path / "greetings")
    ex_id = start_job(engine, spec)
    wait_for_status(engine, ex_id, "completed")
    records = sorted(exported(tmp_path / "greetings"), key=lambda record: record["n"])
    assert records == [{"n": n, "greeting": f"hi {n}"} for n in range(1, 101)]


def test_an_asset_a_living_execution_uses_cannot_be_deleted(engine, worker_node, tmp_path):
    asset_id = store(engine, zipped(SHOUTER))
    spec = {
        "name": "shouting for ever",
        "lifecycle": "persistent",
        "workers": 1,
        "assets": ["shouter"],
        "operations": [{"_op": "test-reader"}, {"_op": "shout"}, {"_op": "delay", "ms": 50}],
    }
    ex_id = start_job(engine, spec)
    wait_for_status(engine, ex_id, "running")
    response = engine.delete(f"/v1/assets/{asset_id}")
    assert response.status_code == 409
    assert ex_id in response.json()["message"]
