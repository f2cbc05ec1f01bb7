"""Superset's own virtual env, ``$DW_HOME/superset-venv``, made with uv from the pins kept here.

Superset pins Flask, SQLAlchemy 1.4, marshmallow 3 and pandas 2.1, which clash with Airflow's, so it
cannot share ``.venv``. ``requirements.txt`` names what is installed, ``constraints.txt`` pins every
package of the result; a stamp named after both files' hash makes a second call free, and a change
to either reinstalls. uv's cache (``uv cache dir``) makes a reinstall take seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from channel_dw.bi.warehouse import SupersetError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
CONSTRAINTS = HERE / "constraints.txt"
INSTALL_TIMEOUT = 1200  # seconds; a cold install (no uv cache) downloads ~400 MB of wheels


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("uv")
    if found:
        return found
    raise SupersetError(
        "uv is not installed in the project's virtual env (it makes Superset's own env): run "
        "scripts/bootstrap.sh, or `.venv/bin/python -m pip install uv`"
    )


def _stamp_key() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def _run(args: list[str], log_file: Path, what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["UV_PYTHON_DOWNLOADS"] = "never"  # the interpreter is ours; never fetch one
    with open(log_file, "ab") as out:
        out.write(f"\n$ {' '.join(args)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SupersetError(f"{what} took over {INSTALL_TIMEOUT}s; see {log_file}") from exc
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise SupersetError(f"{what} failed (exit {done.returncode}); {log_file} ends:\n{tail}")


def superset_bin(venv: Path, name: str = "superset") -> Path:
    return venv / "bin" / name


def ensure_venv(venv: Path, log_file: Path) -> float | None:
    """Makes the env and installs the pinned Superset unless the stamp says it is there.
    Returns the seconds the install took, None when nothing had to be done."""
    stamp = venv / f".installed-{_stamp_key()}"
    python = superset_bin(venv, "python")
    if stamp.exists() and python.exists():
        return None
    started = time.monotonic()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    uv = _uv()
    if not python.exists():
        if venv.exists():
            shutil.rmtree(venv)  # a half-made env from an interrupted run
        log.info("creating Superset's virtual env %s", venv)
        _run(
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            log_file,
            "creating Superset's virtual env",
        )
    log.info("installing Superset into %s (pins: %s)", venv, CONSTRAINTS.name)
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(python),
            "-r",
            str(REQUIREMENTS),
            "-c",
            str(CONSTRAINTS),
        ],
        log_file,
        "installing Superset",
    )
    for old in venv.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    took = time.monotonic() - started
    log.info("Superset installed in %.1fs", took)
    return took
