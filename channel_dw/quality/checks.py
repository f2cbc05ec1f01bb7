"""Runs a source's expectation suite on one per-file table, in the database.

The loader COPYs an export file into its own table (``raw_files.<raw_table>__f<file_id>``), commits,
and calls :func:`run_checks`. The suite is ``expectations/<source>.json``, an ExpectationSuite as
Great Expectations 1.x writes it; every expectation carries ``meta.severity`` (``critical``: a
failure rejects the file; ``warning``: it is recorded and the file loads) and ``meta.why``.

How it runs:

- Great Expectations' SQL (SQLAlchemy) execution engine computes every metric as a query in
  PostgreSQL; no row is pulled into pandas. Only a few example values and their ``_line`` come
  back, and only for a failed expectation (a second, small pass over the failed ones).
- One ephemeral data context per process (no ``gx/`` folder, no data docs, no analytics, no
  progress bars), one data source (with its connection pool) per database URL, and the parsed
  suites (re-read when their file changes) are kept for the life of the process; each call adds a
  table asset for its table and removes it afterwards.
- Calls are serialised by a lock (the data context is not thread-safe): threads may call
  :func:`run_checks`, they just take turns. A forked child builds its own context and engines.
  Pooled connections are returned idle, outside any transaction: they hold no lock on the table
  the loader is about to attach or drop.
- On an empty table the share-of-rows expectations pass with "no rows": the row-count warning
  already says the file is empty, so an empty file gives exactly one warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channel_dw.config import PROJECT_ROOT

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # read when GE is imported
_ge_log = logging.getLogger("great_expectations")
if _ge_log.level == logging.NOTSET:  # GE logs hundreds of INFO lines on import; keep its warnings
    _ge_log.setLevel(logging.WARNING)

import great_expectations as gx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from great_expectations.core import ExpectationSuite  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.row_conditions import deserialize_row_condition  # noqa: E402

log = logging.getLogger(__name__)

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SEVERITIES = ("critical", "warning")
LINE_COLUMN = "_line"  # the per-file table's line number: quoted with unexpected values
SAMPLE_SIZE = 5  # unexpected values (and their lines) kept per failed expectation

# First pass: counts and observed values only (an example query with LIMIT 0 costs nothing).
COUNTS_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}
# Second pass, failed expectations only: a few unexpected values and their lines.
EXAMPLES_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": SAMPLE_SIZE,
    "include_unexpected_rows": False,
}

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = re.compile(rf"\s*({_IDENT})\s*\.\s*({_IDENT})\s*")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one file; one row of ``audit.check_results``."""

    expectation: str  # e.g. "expect_column_values_to_not_be_null"
    column: str | None
    severity: str  # "critical" | "warning"
    success: bool
    observed: str  # short text: "1 of 3 rows, e.g. '9'", "0 rows", "missing columns: ..."
    details: dict  # JSON-serialisable: kwargs, counts, a few unexpected values and their lines


# --- suites ----------------------------------------------------------------------------------


def suite_path(source: str) -> Path:
    return EXPECTATIONS_DIR / f"{source}.json"


def load_suite(source: str) -> ExpectationSuite:
    """The suite of ``source`` from ``expectations/<source>.json``, checked for severities.

    Raises FileNotFoundError when the source has no suite, ValueError when the file is not a
    valid suite or an expectation lacks a severity (or its ``meta.severity`` and GE's own
    ``severity`` disagree).
    """
    path = suite_path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no expectation suite for source {source!r}: {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise ValueError(f"{path} is not an ExpectationSuite (no 'expectations' list)")
    for n, entry in enumerate(data["expectations"], start=1):
        what = f"{path.name}, expectation {n} ({entry.get('type')})"
        severity = (entry.get("meta") or {}).get("severity")
        if severity not in SEVERITIES:
            raise ValueError(f"{what}: meta.severity must be one of {SEVERITIES}, not {severity!r}")
        if entry.get("severity", severity) != severity:
            raise ValueError(
                f"{what}: severity {entry['severity']!r} and meta.severity {severity!r} disagree"
            )
        entry["severity"] = severity
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            suite = ExpectationSuite(**data)
        except Exception as exc:  # pydantic/GE validation errors of a hand-edited file
            raise ValueError(f"{path} is not a valid expectation suite: {exc}") from exc
    if suite.name != source:
        raise ValueError(f"{path}: the suite is named {suite.name!r}, expected {source!r}")
    for expectation in suite.expectations:
        # Results are matched back to the suite by id (GE returns them grouped by domain).
        expectation.id = expectation.id or str(uuid.uuid4())
    return suite


# --- the process-wide Great Expectations state -----------------------------------------------


class _State:
    """What is built once per process: the context, a data source per URL, the parsed suites."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            ),
        )
        self.datasources: dict[str, Any] = {}
        self.suites: dict[str, tuple[int, ExpectationSuite]] = {}

    def datasource(self, database_url: str):
        url = sqlalchemy_url(database_url)
        ds = self.datasources.get(url)
        if ds is None:
            # The generic SQL data source: PostgresDatasource's URL validation rejects a
            # host-less (Unix socket) URL; the execution engine is the same.
            ds = self.context.data_sources.add_sql(
                name=f"warehouse_{len(self.datasources) + 1}",
                connection_string=url,
                create_temp_table=False,  # never copy a file's rows into a temp table
                kwargs={
                    "pool_pre_ping": True,
                    "connect_args": {"application_name": "channel-dw checks"},
                },
            )
            self.datasources[url] = ds
        return ds

    def suite(self, source: str) -> ExpectationSuite:
        path = suite_path(source)
        mtime = path.stat().st_mtime_ns if path.is_file() else -1  # -1: load_suite says why
        cached = self.suites.get(source)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_suite(source))
            self.suites[source] = cached
        return cached[1]

    def forget_engines(self) -> None:
        """After a fork: drop the parent's pooled connections without closing them."""
        for ds in self.datasources.values():
            engine = getattr(ds.get_execution_engine(), "engine", None)
            if engine is not None:
                engine.dispose(close=False)


_lock = threading.Lock()
_state: _State | None = None


def _get_state() -> _State:
    global _state
    if _state is not None and _state.pid != os.getpid():
        _state.forget_engines()
        _state = None
    if _state is None:
        _state = _State()
    return _state


# --- names and URLs --------------------------------------------------------------------------


def sqlalchemy_url(database_url: str) -> str:
    """``postgresql://`` or ``postgres://`` (libpq/psycopg2 style) -> ``postgresql+psycopg2://``.

    SQLAlchemy 2.1 picks psycopg 3 for a driverless URL; the project ships psycopg2.
    """
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg2://" + database_url[len(prefix) :]
    return database_url


def split_table_name(table: str) -> tuple[str, str]:
    """``raw_files.x__f1`` or ``"raw_files"."x__f1"`` -> (schema, table), as PostgreSQL reads it."""
    m = _QUALIFIED.fullmatch(table)
    if m is None:
        raise ValueError(f"{table!r} is not a schema-qualified table name (schema.table)")

    def unquote(part: str) -> str:
        return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()

    return unquote(m.group(1)), unquote(m.group(2))


def _as_ge_name(identifier: str) -> str:
    """GE lower-cases a bare name and keeps a double-quoted one as it is."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier):
        return identifier
    return '"' + identifier + '"'


def _table_columns(engine: sa.Engine, schema: str, table: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select a.attname from pg_attribute a"
                " join pg_class c on c.oid = a.attrelid"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = :schema and c.relname = :table"
                " and a.attnum > 0 and not a.attisdropped order by a.attnum"
            ),
            {"schema": schema, "table": table},
        ).fetchall()
    return [r[0] for r in rows]


# --- running ---------------------------------------------------------------------------------


def run_checks(database_url: str, source: str, table: str) -> list[CheckResult]:
    """Runs the suite of ``source`` on ``table`` (schema-qualified) and returns one result per
    expectation, in the suite's order.

    ``database_url`` is the warehouse URL as the project's settings give it
    (``postgresql://user@host:port/db``); a ``postgresql+psycopg2://`` URL works too, including
    the socket form ``postgresql+psycopg2://user@/db?host=/socket/dir``. ``table`` may be quoted
    (``"raw_files"."web_events__f12"``, as psycopg2's ``Identifier.as_string`` writes it). The
    table must exist and be committed. An expectation that cannot be evaluated (a missing column,
    say) comes back as failed, its error in ``observed``. Raises LookupError when the table does
    not exist.

    Two passes: the whole suite with counts only (GE bundles the aggregates into few queries),
    then the failed expectations again for a few unexpected values and their ``_line``. Asking
    for examples in the first pass would cost every passing expectation two more scans.
    """
    schema, name = split_table_name(table)
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GE's deprecation and "more specific datasource" notes
        started = time.monotonic()
        state = _get_state()
        suite = state.suite(source)
        datasource = state.datasource(database_url)
        columns = _table_columns(datasource.get_execution_engine().engine, schema, name)
        if not columns:
            raise LookupError(f"{schema}.{name} does not exist (or has no columns)")
        asset_name = f"{source}_{uuid.uuid4().hex}"
        # A table asset, not a query asset: GE reads a query asset's columns by running the
        # query itself, which would pull the whole file into the client.
        asset = datasource.add_table_asset(
            name=asset_name, table_name=_as_ge_name(name), schema_name=_as_ge_name(schema)
        )
        try:
            batch = asset.add_batch_definition_whole_table("whole_file").get_batch()
            counted = batch.validate(suite, result_format=COUNTS_FORMAT).results
            failed = [r.expectation_config for r in counted if not r.success]
            examples = []
            if failed:
                again = ExpectationSuite(name=f"{source}_failed", expectations=failed)
                examples_format = dict(EXAMPLES_FORMAT)
                if LINE_COLUMN in columns:
                    examples_format["unexpected_index_column_names"] = [LINE_COLUMN]
                examples = batch.validate(again, result_format=examples_format).results
        finally:
            datasource.delete_asset(asset_name)

    by_id = {r.expectation_config.id: r for r in counted}
    by_id.update(
        (r.expectation_config.id, r) for r in examples if r.success is False and not _error(r)
    )
    ordered = [by_id[e.id] for e in suite.expectations]
    row_count = next(
        (
            r.result.get("observed_value")
            for r in ordered
            if r.expectation_config.type == "expect_table_row_count_to_be_between" and r.result
        ),
        None,
    )
    results = [_to_check_result(r, empty_table=row_count == 0) for r in ordered]
    bad = [r for r in results if not r.success]
    log.info(
        "%s.%s: %d expectations of suite %r, %d failed (%d critical) in %.2fs",
        schema,
        name,
        len(results),
        source,
        len(bad),
        sum(r.severity == "critical" for r in bad),
        time.monotonic() - started,
    )
    return results


def _error(r) -> str | None:
    """The error that kept GE from evaluating an expectation, if any.

    GE reports it either flat (``{"raised_exception": True, ...}``) or per failed metric
    (``{"<metric id>": {"raised_exception": True, ...}}``).
    """
    info = r.exception_info or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error").strip()
    return None


def _to_check_result(r, *, empty_table: bool = False) -> CheckResult:
    config = r.expectation_config
    kwargs = {k: v for k, v in config.to_json_dict()["kwargs"].items() if k not in ("batch_id",)}
    result = dict(r.result or {})
    details: dict[str, Any] = {"kwargs": kwargs}
    message = _error(r)
    if message is not None:
        observed = "could not evaluate: " + (message.splitlines() or [""])[0][:200]
        details["error"] = message[:2000]
        success = False
    elif empty_table and "proportion" in config.type:
        # A share of nothing: the row-count warning already says the file is empty.
        observed = "no rows"
        success = True
    else:
        condition = deserialize_row_condition(config.kwargs.get("row_condition"))
        observed = _observed(config.type, kwargs, result, condition)
        success = bool(r.success)
        details.update(_summary(result))
    return CheckResult(
        expectation=config.type,
        column=kwargs.get("column") or _joined(kwargs),
        severity=(config.meta or {}).get("severity", "critical"),
        success=success,
        observed=observed,
        details=_json_safe(details),
    )


def _joined(kwargs: dict) -> str | None:
    """The columns of a multi-column expectation, e.g. ``hangup_time,call_start``."""
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return None


def _observed(expectation: str, kwargs: dict, result: dict, condition: Any = None) -> str:
    if "unexpected_count" in result and "element_count" in result:
        unexpected = result["unexpected_count"] or 0  # None when no row is in the domain
        text = f"{unexpected:,} of {result['element_count'] or 0:,} rows"
        if condition is not None:
            text += f" where {condition!r}"
        sample = [v for v in result.get("partial_unexpected_list") or [] if v is not None]
        if unexpected and sample:
            shown = ", ".join(_short(v) for v in _distinct(sample)[:3])
            text += f", e.g. {shown}"
        return text
    value = result.get("observed_value")
    if expectation == "expect_table_columns_to_match_set":
        missing = ((result.get("details") or {}).get("mismatched") or {}).get("missing") or []
        if missing:
            return "missing columns: " + ", ".join(missing)
        return f"all {len(kwargs.get('column_set') or [])} columns present"
    if expectation.startswith("expect_table_row_count"):
        return f"{value:,} rows" if isinstance(value, int) else f"{value} rows"
    if "proportion" in expectation:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "no rows"
        what = "non-null" if "non_null" in expectation else "distinct"
        return f"{value:.1%} {what}"
    if expectation == "expect_column_unique_value_count_to_be_between":
        return f"{value} distinct values"
    return f"observed {_short(value)}"


def _summary(result: dict) -> dict:
    keep = (
        "observed_value",
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "missing_count",
        "partial_unexpected_list",
        "partial_unexpected_counts",
    )
    out = {k: result[k] for k in keep if k in result}
    if "partial_unexpected_index_list" in result:
        out["unexpected_lines"] = [
            row.get(LINE_COLUMN) for row in result["partial_unexpected_index_list"][:SAMPLE_SIZE]
        ]
    mismatched = (result.get("details") or {}).get("mismatched")
    if mismatched:
        out["mismatched"] = mismatched
    return out


def _distinct(values: list) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_safe(value: Any) -> Any:
    """Plain JSON types only (NaN and infinities become null), so the loader can store it."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
