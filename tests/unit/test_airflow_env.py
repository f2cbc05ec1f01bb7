"""Airflow's settings: the one airflow.cfg that every Airflow process of a deployment reads."""

from __future__ import annotations

import configparser

from channel_dw.orchestration import airflow_env


def _jwt_secret(path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser.get("api_auth", "jwt_secret")


def test_ensure_config_writes_airflow_cfg_once_and_keeps_its_secrets(tmp_path):
    env = {"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    airflow_env.ensure_config(env)
    cfg = tmp_path / "airflow.cfg"
    secret = _jwt_secret(cfg)
    assert len(secret) >= 16

    # a second process (the next `airflow up`) reads the same file: nothing is drawn again
    airflow_env.ensure_config(env)
    assert _jwt_secret(cfg) == secret


def test_config_file_follows_airflow_config_when_it_is_set(tmp_path):
    own = tmp_path / "etc" / "airflow.cfg"
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONFIG": str(own)}
    assert airflow_env.config_file(env) == own
    assert airflow_env.config_file({"AIRFLOW_HOME": str(tmp_path)}) == tmp_path / "airflow.cfg"
