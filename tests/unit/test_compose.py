"""docker-compose.yml is accepted by compose and describes the stack the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


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
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(config["services"])


def test_compose_refuses_to_start_without_the_secrets_file(tmp_path):
    cmd = compose_command()
    if cmd is None:
        pytest.skip("no docker compose / docker-compose binary")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [*cmd, "--env-file", str(empty), "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "WAREHOUSE_PASSWORD" in result.stderr


def test_every_long_running_service_has_a_health_check_and_no_secret_is_committed():
    text = (ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    for name, service in services.items():
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"
    assert "change-me" not in text
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored
