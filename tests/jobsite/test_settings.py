"""Settings come from the environment; they are read at import, so each case runs in a fresh process."""

import json
import subprocess
import sys

from tests.conftest import ROOT

PRINT_SETTINGS = """
import json
from django.conf import settings
from jobsite.conf import conf
print(json.dumps({
    "db": {k: settings.DATABASES["default"].get(k) for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")},
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "port": settings.PORT,
    "secret_key": settings.SECRET_KEY,
    "q_broker": "redis" if "redis" in settings.Q_CLUSTER else settings.Q_CLUSTER.get("orm"),
    "q_redis": settings.Q_CLUSTER.get("redis"),
    "cluster_name": conf.cluster_name,
    "node_id": conf.node_id,
    "engine_workers": settings.Q_CLUSTER["workers"],
}))
"""

EXTERNAL_DB = "postgres://jobs:p%23ss@db.example.org:5433/jobsite_prod"


def bare_environment(tmp_path, **environment) -> dict:
    """A bare machine's environment (nothing of the test run's) with the data directory in `tmp_path`."""
    return {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "jobsite.settings",
        "JOBSITE_DATA_DIR": str(tmp_path),
        "DATABASE_URL": EXTERNAL_DB,  # no embedded server is started when this is set
        **environment,
    }


def settings_with(tmp_path, **environment):
    script = "import django; django.setup()\n" + PRINT_SETTINGS
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=bare_environment(tmp_path, **environment),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_database_url_configures_external_postgresql(tmp_path):
    db = settings_with(tmp_path)["db"]

    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "jobsite_prod",
        "USER": "jobs",
        "PASSWORD": "p#ss",
        "HOST": "db.example.org",
        "PORT": 5433,
    }


def test_percent_encoded_socket_directory_becomes_the_host(tmp_path):
    db = settings_with(tmp_path, DATABASE_URL="postgresql://postgres@%2Fvar%2Frun%2Fpg/jobsite")["db"]

    assert db["HOST"] == "/var/run/pg"


def test_defaults_for_a_bare_machine(tmp_path):
    values = settings_with(tmp_path)

    assert values["debug"] is False
    assert values["allowed_hosts"] == ["*"]
    assert values["port"] == 5678
    assert values["q_broker"] == "default"
    assert values["cluster_name"] == "jobsite"


def test_environment_overrides(tmp_path):
    values = settings_with(
        tmp_path,
        DEBUG="true",
        ALLOWED_HOSTS="jobs.example.org,localhost",
        PORT="6000",
        SECRET_KEY="from-the-environment",
        REDIS_URL="redis://cache:6379/2",
        JOBSITE_CLUSTER_NAME="prod-east",
        JOBSITE_NODE_ID="AAAAAAAAAAAAAAAAAAAAAA",
        JOBSITE_ENGINE_WORKERS="3",
    )

    assert values["debug"] is True
    assert values["allowed_hosts"] == ["jobs.example.org", "localhost"]
    assert values["port"] == 6000
    assert values["secret_key"] == "from-the-environment"
    assert values["q_broker"] == "redis"
    assert values["q_redis"] == "redis://cache:6379/2"
    assert values["cluster_name"] == "prod-east"
    assert values["node_id"] == "AAAAAAAAAAAAAAAAAAAAAA"
    assert values["engine_workers"] == 3


def test_missing_secret_key_is_generated_once_and_kept_in_the_data_dir(tmp_path):
    first = settings_with(tmp_path)["secret_key"]
    second = settings_with(tmp_path)["secret_key"]

    assert len(first) >= 50
    assert first == second
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_node_id_is_22_url_safe_characters_and_stable(tmp_path):
    first = settings_with(tmp_path)["node_id"]

    assert len(first) == 22
    assert first.replace("-", "").replace("_", "").isalnum()
    assert settings_with(tmp_path)["node_id"] == first


def test_another_data_dir_gets_another_identity(tmp_path):
    one = settings_with(tmp_path / "one")
    two = settings_with(tmp_path / "two")

    assert one["node_id"] != two["node_id"]
    assert one["secret_key"] != two["secret_key"]


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = bare_environment(
        tmp_path,
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-" + "y" * 30,
        ALLOWED_HOSTS="jobs.example.org",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
    # HSTS for every subdomain and the browsers' preload list cannot be undone lightly: the operator opts in
    # (JOBSITE_HSTS_INCLUDE_SUBDOMAINS, JOBSITE_HSTS_PRELOAD). Nothing else is left.
    warnings = {line.split(")")[0].split("(")[1] for line in result.stderr.splitlines() if "(security." in line}
    assert warnings <= {"security.W005", "security.W021"}, result.stderr


def test_plain_http_mode_has_no_secure_only_cookies_or_redirects(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=bare_environment(tmp_path, JOBSITE_HTTPS="false"),
        capture_output=True,
        text=True,
    )

    assert result.stdout.split() == ["False", "False", "0"]


def without_database_url(tmp_path, **environment) -> dict:
    env = bare_environment(tmp_path, **environment)
    del env["DATABASE_URL"]
    return env


def test_django_setup_without_database_url_starts_no_postgresql(tmp_path):
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'jobsite.settings'); django.setup()\n"
        + PRINT_SETTINGS
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=without_database_url(tmp_path), capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    # Pointed at where the embedded server of this data directory listens, but nothing was started there.
    assert json.loads(result.stdout)["db"]["HOST"] == str((tmp_path / "pg").resolve())
    assert not (tmp_path / "pg").exists()


def test_commands_that_need_no_database_start_none(tmp_path):
    for command in (["check"], ["makemigrations", "--check", "--dry-run"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=without_database_url(tmp_path),
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    assert not (tmp_path / "pg").exists()


def test_a_bad_jobsite_setting_stops_the_start_with_its_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=bare_environment(tmp_path, JOBSITE_STOP_TIMEOUT_SECONDS="soon"),
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "JOBSITE_STOP_TIMEOUT_SECONDS must be a float, not 'soon'" in result.stderr


def test_engine_slots_out_of_bounds_stop_the_start_with_the_bounds(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=bare_environment(tmp_path, JOBSITE_ENGINE_WORKERS="0"),
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "JOBSITE_ENGINE_WORKERS must be 1 to 256, not 0" in result.stderr
