"""The suites in ``expectations/``: they load, name only raw columns, carry severities."""

from __future__ import annotations

import json

import pytest

from channel_dw.quality import checks
from channel_dw.quality.checks import load_suite, split_table_name, sqlalchemy_url
from channel_dw.sources import SOURCE_NAMES, get_source

COLUMN_KEYS = ("column", "column_A", "column_B")
LIST_KEYS = ("column_list", "column_set")


def named_columns(kwargs: dict) -> set[str]:
    """Every column an expectation's kwargs name, its row condition included."""
    names = {kwargs[k] for k in COLUMN_KEYS if k in kwargs}
    for key in LIST_KEYS:
        names.update(kwargs.get(key) or [])
    names.update(condition_columns(kwargs.get("row_condition")))
    return names


def condition_columns(condition) -> set[str]:
    if not condition:
        return set()
    if isinstance(condition, str):
        raise AssertionError(f"string row conditions are deprecated in GE 1.x: {condition!r}")
    names = set()
    if "column" in condition:
        names.add(condition["column"]["name"])
    for part in condition.get("conditions") or []:
        names |= condition_columns(part)
    return names


def suite_entries(source: str) -> list[dict]:
    return json.loads(checks.suite_path(source).read_text(encoding="utf-8"))["expectations"]


def test_every_source_has_a_suite_and_nothing_else_is_there():
    suites = {p.stem for p in checks.EXPECTATIONS_DIR.glob("*.json")}
    assert suites == set(SOURCE_NAMES)


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_suite_loads_as_a_ge_expectation_suite(source):
    suite = load_suite(source)
    assert suite.name == source
    assert len(suite.expectations) >= 5


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_suite_file_is_what_ge_writes(source):
    """The files are ExpectationSuite.to_json_dict() output, so GE round-trips them unchanged."""
    on_disk = json.loads(checks.suite_path(source).read_text(encoding="utf-8"))
    written = load_suite(source).to_json_dict()
    for entry in written["expectations"]:
        entry["id"] = None  # load_suite gives each expectation a run-time id
    for entry in on_disk["expectations"]:
        entry.setdefault("id", None)
    assert written["expectations"] == on_disk["expectations"]


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_suite_names_only_raw_columns_of_its_source(source):
    raw_columns = set(get_source(source).columns)
    for entry in suite_entries(source):
        unknown = named_columns(entry["kwargs"]) - raw_columns
        assert not unknown, f"{source}: {entry['type']} names {unknown}, not raw columns"


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_columns_expectation_lists_every_raw_column(source):
    (entry,) = [
        e for e in suite_entries(source) if e["type"] == "expect_table_columns_to_match_set"
    ]
    assert entry["kwargs"]["column_set"] == list(get_source(source).columns)
    assert entry["kwargs"]["exact_match"] is False  # _file_id, _line, _loaded_at are extra
    assert entry["meta"]["severity"] == "critical"


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_every_expectation_has_a_severity_and_a_reason(source):
    for entry in suite_entries(source):
        meta = entry["meta"]
        assert meta["severity"] in ("critical", "warning"), entry
        assert entry["severity"] == meta["severity"], entry  # GE's own field agrees
        assert len(meta["why"]) > 20, entry


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_an_empty_file_is_a_warning_not_a_rejection(source):
    (entry,) = [
        e for e in suite_entries(source) if e["type"] == "expect_table_row_count_to_be_between"
    ]
    assert entry["kwargs"] == {"min_value": 1}
    assert entry["meta"]["severity"] == "warning"


@pytest.mark.parametrize(
    ("source", "key"),
    [("hotline", "call_id"), ("sms", "msg_id"), ("halls", "txn_id"), ("crm", "customer_id")],
)
def test_ids_unique_by_contract_are_critical(source, key):
    unique = [
        e
        for e in suite_entries(source)
        if e["type"] == "expect_column_values_to_be_unique" and e["kwargs"]["column"] == key
    ]
    assert [e["meta"]["severity"] for e in unique] == ["critical"]


def test_store_order_is_unique_per_platform_within_a_file():
    (entry,) = [
        e for e in suite_entries("stores") if e["type"] == "expect_compound_columns_to_be_unique"
    ]
    assert entry["kwargs"]["column_list"] == ["platform", "order_no"]
    assert entry["meta"]["severity"] == "critical"


def test_web_event_id_may_repeat_because_the_collector_retries():
    for entry in suite_entries("web"):
        if entry["type"] in (
            "expect_column_values_to_be_unique",
            "expect_compound_columns_to_be_unique",
        ):
            assert "event_id" not in named_columns(entry["kwargs"])
        if entry["type"] == "expect_column_proportion_of_unique_values_to_be_between":
            assert entry["meta"]["severity"] == "warning"


def test_a_suite_without_severity_is_refused(tmp_path, monkeypatch):
    entries = suite_entries("sms")
    del entries[0]["meta"]["severity"]
    (tmp_path / "sms.json").write_text(
        json.dumps({"name": "sms", "expectations": entries}), encoding="utf-8"
    )
    monkeypatch.setattr(checks, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"sms.json, expectation 1 .*meta.severity"):
        load_suite("sms")


def test_a_suite_whose_two_severities_disagree_is_refused(tmp_path, monkeypatch):
    entries = suite_entries("sms")
    entries[0]["severity"] = "warning"
    (tmp_path / "sms.json").write_text(
        json.dumps({"name": "sms", "expectations": entries}), encoding="utf-8"
    )
    monkeypatch.setattr(checks, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(ValueError, match="disagree"):
        load_suite("sms")


def test_a_source_without_suite_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="'sms'"):
        load_suite("sms")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("raw_files.web_events__f12", ("raw_files", "web_events__f12")),
        ('"raw_files"."web_events__f12"', ("raw_files", "web_events__f12")),
        ("Raw_Incoming.Web_Events__F1", ("raw_incoming", "web_events__f1")),
        ('"Odd ""Name"""."t"', ('Odd "Name"', "t")),
    ],
)
def test_table_names_are_read_as_postgresql_reads_them(given, expected):
    assert split_table_name(given) == expected


@pytest.mark.parametrize("given", ["web_events__f12", "a.b.c", "raw; drop table x"])
def test_a_name_that_is_not_schema_dot_table_is_refused(given):
    with pytest.raises(ValueError, match="schema-qualified"):
        split_table_name(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/dw",
            "postgresql+psycopg2://postgres@127.0.0.1:5432/dw",
        ),
        ("postgres://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        (
            "postgresql+psycopg2://postgres@/db?host=/tmp/s",
            "postgresql+psycopg2://postgres@/db?host=/tmp/s",
        ),
    ],
)
def test_database_urls_get_the_psycopg2_driver(given, expected):
    assert sqlalchemy_url(given) == expected
