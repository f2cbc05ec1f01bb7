"""docker-compose.yml is accepted by compose and describes the stack docs/deployment.md promises:
the warehouse, Airflow with its own database, Metabase reading the marts as bi_reader; health
checks on every long-running service; every secret from the git-ignored env file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

ONE_SHOT = {"airflow-init", "bi-reader-init", "metabase-setup"}
# variables of .env.example that are not secrets (everything else is)
NOT_SECRET = {
    "DW_LANDING_HOST",
    "WAREHOUSE_PORT",
    "AIRFLOW_PORT",
    "METABASE_PORT",
    "METABASE_VERSION",
    "METABASE_ADMIN_EMAIL",
    "DW_REPORTS_HOST",
    "DW_ALERT_EMAIL",
}
# Secrets a deployment may leave unset (alerts are optional): empty in .env.example, read with
# `${VAR:-}` so that compose accepts them missing.
OPTIONAL_SECRETS = {"DW_ALERT_WEBHOOK", "AIRFLOW_CONN_SMTP_DEFAULT"}
SECRET_NAME = re.compile(r"(PASSWORD|PASS|SECRET|KEY|TOKEN)$")
REQUIRED_REF = re.compile(r"^\$\{([A-Z0-9_]+):\?[^}]+\}$")


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def raw_services() -> dict:
    """The services as written (not interpolated), so `${VAR}` references are visible."""
    return yaml.safe_load(COMPOSE.read_text())["services"]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def test_compose_file_is_accepted_by_compose_config():
    cmd = compose_command()
    if cmd is None:
        pytest.skip(
            "no docker compose / docker-compose binary (scripts/ensure-compose.sh installs one)"
        )
    result = subprocess.run(
        [*cmd, "--env-file", ".env.example", "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert {
        "warehouse",
        "airflow-db",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "bi-reader-init",
        "metabase-db",
        "metabase",
        "metabase-setup",
    } <= set(config["services"])
    # the BI login's password reaches the one-shots from the env file, not from the compose file
    secrets = env_example()
    for name in ("bi-reader-init", "metabase-setup"):
        env = environment(config["services"][name])
        assert env["BI_READER_PASSWORD"] == secrets["BI_READER_PASSWORD"]


def test_compose_refuses_to_start_without_the_secrets_file(tmp_path):
    cmd = compose_command()
    if cmd is None:
        pytest.skip("no docker compose / docker-compose binary")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [*cmd, "--env-file", str(empty), "-f", str(COMPOSE), "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    # the message names the missing variable and where to set it
    assert re.search(r"set [A-Z0-9_]+ in \.env \(see \.env\.example\)", result.stderr)


def test_every_long_running_service_has_a_health_check():
    services = raw_services()
    for name, service in services.items():
        assert "restart" in service, f'{name}: say `restart` (one-shots: restart: "no")'
        if service["restart"] == "no":
            assert name in ONE_SHOT, f"{name} is a one-shot nobody expects"
            assert "ports" not in service, f"one-shot {name} publishes a port"
            continue
        health = service.get("healthcheck")
        assert health, f"{name} has no healthcheck"
        assert health["test"] and health["test"] != ["NONE"], f"{name}: empty healthcheck"
        for option in ("interval", "timeout", "retries"):
            assert option in health, f"{name}: healthcheck without {option}"
    assert {name for name, s in services.items() if s["restart"] == "no"} == ONE_SHOT


def test_the_scheduler_serves_the_health_endpoint_its_check_calls():
    scheduler = raw_services()["airflow-scheduler"]
    assert ":8974/health" in " ".join(scheduler["healthcheck"]["test"])
    # Airflow starts that server only when asked (default False)
    assert environment(scheduler)["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"


def test_services_wait_for_the_health_of_what_they_use():
    services = raw_services()
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule["condition"] == wanted, f"{name} -> {dependency}"


def test_no_secret_is_written_in_the_compose_file():
    text = COMPOSE.read_text()
    assert "change-me" not in text
    secrets = {k: v for k, v in env_example().items() if k not in NOT_SECRET | OPTIONAL_SECRETS}
    assert secrets, ".env.example lists no secret"
    for name in OPTIONAL_SECRETS:
        assert env_example()[name] == "", f".env.example: {name} must be empty"
        assert f"${{{name}:-}}" in text, f"{name} must be read as ${{{name}:-}}"
    for name, placeholder in secrets.items():
        assert placeholder.startswith("change-me"), f".env.example: {name} is not a placeholder"
    for name, service in raw_services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                match = REQUIRED_REF.match(value)
                assert match, f"{name}: {key} must be ${{VAR:?message}}, not {value!r}"
                assert match.group(1) in secrets, f"{name}: {key} reads a variable not a secret"
            # credentials inside a URL: the password part is a required variable too
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert REQUIRED_REF.match(password), f"{name}: {key} has a literal password"


def test_the_env_file_is_ignored_and_never_committed():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored
    if shutil.which("git") and (ROOT / ".git").exists():
        tracked = subprocess.run(
            ["git", "ls-files", "--", ".env"], cwd=ROOT, capture_output=True, text=True
        )
        assert tracked.stdout.strip() == "", ".env is tracked by git"


def test_every_variable_is_in_the_env_template_and_documented():
    # `$${X}` is a literal `${X}` for the container's shell, not a compose variable
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    listed = set(env_example())
    assert used <= listed, f"not in .env.example: {sorted(used - listed)}"
    assert listed <= used, f"in .env.example but unused: {sorted(listed - used)}"
    doc = DEPLOYMENT_DOC.read_text()
    for name in listed:
        assert f"`{name}`" in doc, f"docs/deployment.md does not describe {name}"


def test_metabase_is_the_bi_service_with_its_own_application_database():
    services = raw_services()
    metabase = services["metabase"]
    assert metabase["image"].startswith("metabase/metabase:")
    env = environment(metabase)
    assert env["MB_DB_TYPE"] == "postgres"
    app_db = services[env["MB_DB_HOST"]]
    assert app_db["image"].startswith("postgres:")
    assert app_db is not services["warehouse"]
    app_env = environment(app_db)
    assert env["MB_DB_DBNAME"] == app_env["POSTGRES_DB"]
    assert env["MB_DB_USER"] == app_env["POSTGRES_USER"]
    assert env["MB_DB_PASS"] == app_env["POSTGRES_PASSWORD"]
    assert REQUIRED_REF.match(env["MB_ENCRYPTION_SECRET_KEY"])
    assert metabase["depends_on"][env["MB_DB_HOST"]]["condition"] == "service_healthy"
    assert "/api/health" in " ".join(metabase["healthcheck"]["test"])
    assert any(v.startswith("metabase-db-data:") for v in app_db["volumes"])


def test_bi_reader_gets_its_login_from_the_env_file():
    service = raw_services()["bi-reader-init"]
    env = environment(service)
    assert env["PGHOST"] == "warehouse"
    assert env["PGDATABASE"] == environment(raw_services()["warehouse"])["POSTGRES_DB"]
    assert REQUIRED_REF.match(env["BI_READER_PASSWORD"]).group(1) == "BI_READER_PASSWORD"
    script = "\n".join(service["command"])
    assert "\\getenv bi_reader_password BI_READER_PASSWORD" in script
    assert "alter role bi_reader with login password %L" in script
    assert "$" not in script  # nothing for compose to interpolate, no password on a command line
    # after sql/003_bi_reader.sql has created the role and its grants on marts
    assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


# --- metabase-setup, run against a stand-in for Metabase's API ---------------------------------


class FakeMetabase(BaseHTTPRequestHandler):
    state: dict

    def _reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self):
        state = self.state
        if self.path == "/api/session/properties":
            self._reply(200, {"has-user-setup": state["set_up"], "setup-token": "tok-123"})
        elif self.path == "/api/database":
            if self.headers.get("X-Metabase-Session") != "session-1":
                self._reply(401, "Unauthenticated")
            else:
                self._reply(200, {"data": state["databases"], "total": len(state["databases"])})
        else:
            self._reply(404, "not found")

    def do_POST(self):
        state = self.state
        body = self._body()
        state["calls"].append((self.path, body))
        if self.path == "/api/setup":
            if state["set_up"] or body.get("token") != "tok-123":
                self._reply(403, "setup done")
            else:
                state["set_up"] = True
                self._reply(200, {"id": "session-1"})
        elif self.path == "/api/session":
            if body == state["admin"]:
                self._reply(200, {"id": "session-1"})
            else:
                self._reply(401, {"errors": {"password": "did not match stored password"}})
        elif self.path == "/api/database":
            if self.headers.get("X-Metabase-Session") != "session-1":
                self._reply(401, "Unauthenticated")
            elif state["refuse_database"]:
                self._reply(400, {"message": "Connection refused"})
            else:
                state["databases"].append({"id": 2, **body})
                self._reply(200, {"id": 2, **body})
        else:
            self._reply(404, "not found")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_metabase():
    state = {
        "set_up": False,
        "databases": [],
        "calls": [],
        "admin": {"username": "bi-admin@example.com", "password": "s3cret-admin-1"},
        "refuse_database": False,
    }
    handler = type("Handler", (FakeMetabase,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def run_metabase_setup(url: str) -> subprocess.CompletedProcess:
    service = raw_services()["metabase-setup"]
    assert service["entrypoint"] == ["python", "-c"]
    (script,) = service["command"]
    assert "$" not in script  # what compose hands to python is exactly this text
    env = {
        **os.environ,
        **environment(service),
        "METABASE_URL": url,
        "METABASE_ADMIN_EMAIL": "bi-admin@example.com",
        "METABASE_ADMIN_PASSWORD": "s3cret-admin-1",
        "BI_READER_PASSWORD": 'bi "reader" pw',
    }
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


def test_metabase_setup_creates_the_admin_and_connects_the_marts_as_bi_reader(fake_metabase):
    url, state = fake_metabase
    result = run_metabase_setup(url)
    assert result.returncode == 0, result.stderr
    (setup_path, setup), (db_path, database) = state["calls"]
    assert setup_path == "/api/setup"
    assert setup["token"] == "tok-123"
    assert setup["user"]["email"] == "bi-admin@example.com"
    assert setup["user"]["password"] == "s3cret-admin-1"
    assert setup["prefs"]["site_name"]
    assert db_path == "/api/database"
    assert database["engine"] == "postgres"
    details = database["details"]
    services = raw_services()
    assert details["host"] == "warehouse" and "warehouse" in services
    assert details["port"] == 5432
    assert details["dbname"] == environment(services["warehouse"])["POSTGRES_DB"]
    assert details["user"] == "bi_reader"
    assert details["password"] == 'bi "reader" pw'
    assert details["schema-filters-patterns"] == "marts"

    # a second `up`: logs in, finds the connection, adds nothing
    state["calls"].clear()
    again = run_metabase_setup(url)
    assert again.returncode == 0, again.stderr
    assert [path for path, _ in state["calls"]] == ["/api/session"]
    assert len(state["databases"]) == 1
    assert "already connected" in again.stdout


def test_metabase_setup_leaves_a_metabase_whose_admin_changed_the_password(fake_metabase):
    url, state = fake_metabase
    state["set_up"] = True
    state["admin"] = {"username": "bi-admin@example.com", "password": "changed-in-the-ui-9"}
    result = run_metabase_setup(url)
    assert result.returncode == 0, result.stderr
    assert "cannot log in" in result.stdout
    assert state["databases"] == []


def test_metabase_setup_fails_loudly_when_metabase_refuses_the_connection(fake_metabase):
    url, state = fake_metabase
    state["refuse_database"] = True
    result = run_metabase_setup(url)
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr and "Connection refused" in result.stderr


def test_the_scheduler_starts_with_the_tasks_libraries_preloaded():
    scheduler = raw_services()["airflow-scheduler"]
    assert scheduler["command"] == [
        "python", "-m", "channel_dw.orchestration.airflow_main", "scheduler"
    ]  # fmt: skip
