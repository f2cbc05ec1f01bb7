"""What dbt reads of the project before it runs: the manifest cosmos renders the mart DAG from
(:func:`current_manifest`), the partial-parse file that spares each dbt command a full parse
(:func:`seed_partial_parse`), and the scheduler's warm-up (:func:`warm_dbt`).

A dbt command parses the project first: in full (15-20 s of CPU on this machine) unless its
target folder holds a ``partial_parse.msgpack`` that fits (same profile connection, variables and
target; no file changed), then 2-3 s. The mart DAG's tasks each run dbt in a process of their own,
so where that file comes from decides much of a run's cost.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from channel_dw.config import Settings, settings
from channel_dw.orchestration.dbt_env import DBT_PROJECT_DIR, dbt_environ, dbt_environment

log = logging.getLogger(__name__)

DBT_PROFILE = "channel_dw"
DBT_TARGET = "warehouse"

# What makes up a dbt project: a manifest older than any of these no longer describes it.
_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")
_PROJECT_DIRS = ("models", "seeds", "macros", "snapshots", "tests", "analyses")
# dbt's flags for every task of the group: no colour codes in the task log; no manifest.json and
# run_results.json written by each task (a second of CPU each; nothing reads them: cosmos takes
# the results from dbtRunner, the manifest from current_manifest)
DBT_TASK_FLAGS = ("--no-use-colors", "--no-write-json")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_executable() -> str:
    """The ``dbt`` installed beside this interpreter (the project's virtual env), else on PATH
    (a ``pip install --user``, as in the Airflow image, puts it in ``~/.local/bin``)."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or str(beside)


def manifest_is_current(manifest: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """True when the manifest exists and no file of the dbt project changed after it."""
    try:
        written = manifest.stat().st_mtime
    except FileNotFoundError:
        return False
    try:
        return all(path.stat().st_mtime <= written for path in _project_files(project_dir))
    except FileNotFoundError:  # a file went away while we looked: something changed
        return False


def _project_files(project_dir: Path) -> Iterator[Path]:
    for name in _PROJECT_FILES:
        if (project_dir / name).exists():
            yield project_dir / name
    for folder in _PROJECT_DIRS:
        for dirpath, _dirnames, filenames in os.walk(project_dir / folder):
            yield Path(dirpath)  # a deleted or renamed file shows in its folder's mtime
            for name in filenames:
                yield Path(dirpath, name)


def dbt_args(command: str, project_dir: Path, target: Path, log_path: Path) -> list[str]:
    """``command`` (words) on the project with the warehouse's profile, writing its artefacts to
    ``target`` and its dbt.log to ``log_path``."""
    return [
        *command.split(),
        "--project-dir",
        str(project_dir),
        "--profile",
        DBT_PROFILE,
        "--target",
        DBT_TARGET,
        "--target-path",
        str(target),
        "--log-path",
        str(log_path),
    ]


def current_manifest(s: Settings | None = None, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """A ``manifest.json`` that describes the dbt project as it is now, for cosmos to render.

    ``dbt_project/target/manifest.json`` when it is current (any dbt command writes it, e.g.
    ``channel-dw dbt parse``; an image can ship it); otherwise this checkout's own copy under
    ``$DW_HOME/dbt-manifest/``, re-made with ``dbt parse`` when the project changed since. ``dbt
    parse`` reads files only, no database, and takes a few seconds; it runs under a lock, and the
    manifest is replaced atomically, so concurrent DAG parses neither collide nor read half a file.
    """
    shipped = project_dir / "target" / "manifest.json"
    if manifest_is_current(shipped, project_dir):
        return shipped
    s = s or settings()
    cache = s.home / "dbt-manifest"
    manifest = cache / "manifest.json"
    if manifest_is_current(manifest, project_dir):
        return manifest
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_current(manifest, project_dir):  # made while we waited for the lock
            return manifest
        started = time.monotonic()
        target = cache / "target"  # kept between runs: dbt's partial parsing makes it faster
        result = subprocess.run(
            [dbt_executable(), "--no-use-colors", *dbt_args("parse", project_dir, target, cache)],
            cwd=project_dir,
            env=dbt_environ(s),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"dbt parse of {project_dir} failed (exit code {result.returncode}):\n"
                + result.stdout[-3000:]
                + result.stderr[-2000:]
            )
        os.replace(target / "manifest.json", manifest)
    log.info(
        "%s was missing or older than the dbt project: parsed the project into %s in %.1fs",
        shipped,
        manifest,
        time.monotonic() - started,
    )
    return manifest


def warm_dbt(s: Settings | None = None, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Runs ``dbt parse`` in this process (files only, no database), for processes forked from it.

    dbt builds much of what it needs lazily, once per process: the JSON schemas it validates the
    project and profile with, the (de)serializers of its manifest classes (mashumaro), inspect's
    map of modules. A cosmos task forked from the scheduler after this parse finds them built: its
    ``dbt build`` of a model spends 2.8 s of CPU rather than 4.6 (measured here, partial parse).
    Nothing stays behind: no thread, no connection, no file (a scratch target folder); the
    variables dbt needs are set for the parse only. Raises ``RuntimeError`` when dbt fails.
    """
    from dbt.cli.main import dbtRunner

    s = s or settings()
    with tempfile.TemporaryDirectory(prefix="dbt-warm-") as tmp:
        target = Path(tmp) / "target"
        seed_newest_partial_parse(target, s, project_dir)
        with dbt_environment(s):
            result = dbtRunner().invoke(
                [
                    *DBT_TASK_FLAGS,
                    *dbt_args("parse", project_dir, target, Path(tmp)),
                    "--log-level-file",
                    "none",
                    "--quiet",
                ]
            )
    if not result.success:
        raise RuntimeError(f"dbt parse of {project_dir} failed: {result.exception}")


def seed_newest_partial_parse(target: Path, s: Settings, project_dir: Path) -> None:
    """Copies the newest partial-parse file of this project into ``target`` (saves seconds).

    dbt checks the file (project files, variables, profile) and parses in full if it does not fit.
    """
    candidates = [
        p
        for p in (
            s.home / "dbt-manifest" / "target" / PARTIAL_PARSE_FILE,
            project_dir / "target" / PARTIAL_PARSE_FILE,
        )
        if p.exists()
    ]
    if candidates:
        seed_partial_parse(max(candidates, key=lambda p: p.stat().st_mtime), target)


def partial_parse_of(manifest: Path) -> Path:
    """The partial-parse file the dbt command that wrote ``manifest`` left (it may be gone):
    beside it in a dbt target folder; in ``target/`` beside it in :func:`current_manifest`'s
    cache, whose ``dbt parse`` keeps its target folder there."""
    beside = manifest.parent / PARTIAL_PARSE_FILE
    cached = manifest.parent / "target" / PARTIAL_PARSE_FILE
    return cached if cached.exists() or not beside.exists() else beside


def seed_partial_parse(source: Path, target: Path) -> bool:
    """Puts ``source`` (a ``partial_parse.msgpack``) into the folder ``target`` unless the file
    there is as new; atomically (a dbt task may be reading it). True when it copied.

    A dbt command that finds no partial-parse file parses the whole project: 15-20 s of CPU here,
    against 2-3 s with one. :func:`current_manifest`'s ``dbt parse`` leaves one, made with the
    tasks' profile and variables; the cosmos tasks of a run start from it, rather than the first
    ones each parsing in full (four at once, with the default parallelism, on a fresh DW_HOME or
    after a change of the project). dbt still parses in full when the file does not fit (another
    database, other ``--vars``).
    """
    dest = target / PARTIAL_PARSE_FILE
    try:
        newer = source.stat().st_mtime > dest.stat().st_mtime
    except FileNotFoundError:
        newer = source.exists()
    if not newer:
        return False
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target, prefix=".partial_parse.", delete=False) as tmp:
        with open(source, "rb") as f:
            shutil.copyfileobj(f, tmp)
    shutil.copystat(source, tmp.name)  # its time (newer than the project) and mode
    os.replace(tmp.name, dest)
    return True
