"""The columnar path of the web reader gives exactly what the per-line path gives.

The per-line path (``web._parse_line``) is the reference: it holds the contract's rules and
messages. The columnar path may only decide faster, never differently.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_dw.errors import FileRejected
from channel_dw.sources import web
from channel_dw.sources.base import Row

GOOD = {
    "event_id": "e1",
    "ts": "2026-10-01T08:15:02.123+08:00",
    "session_id": "s1",
    "visitor_id": "v1",
    "member_id": "M00012345",
    "msisdn": "13812345678",
    "event": "biz_result",
    "biz_code": "WEB_PAY",
    "order_id": "O1",
    "amount": "50.00",
    "result": "success",
    "fail_reason": None,
    "page": "/pay",
}
TRICKY = [
    None,
    "",
    " ",
    " x",
    "x ",
    "\u3000x",
    "x\xa0",
    "nul\x00",
    "13812345678",
    " 13812345678",
    "+86 138-1234-5678",
    "(138)12345678",
    "138****5678",
    "2026-02-29T08:00:00+08:00",
    "2024-02-29T08:00:00+08:00",
    "2026-10-01T08:00:00Z",
    "2026-10-01T08:00:00",
    "2026-10-01T24:00:00+08:00",
    "2026-10-01 08:00:00+08:00",
    "2026-10-01T08:00:00.1234567+08:00",
    "50",
    "-5.5",
    "+5",
    "5.",
    "¥5",
    "page_view",
    "biz_submit",
    "biz_result",
    "login",
    "WEB_PAY",
    "WEB_BILLQ",
    "success",
    "fail",
    'say "hi"',
    "back\\slash",
    "太原",
    5,
    5.5,
    True,
    [1],
    {"a": 1},
]


def reference(path) -> list | tuple:
    """What the per-line path makes of the file (a FileRejected as its rule and line)."""
    items = []
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                item = web._parse_line(number, raw, path.name)
                if item is not None:
                    items.append(item)
    except FileRejected as exc:
        return (exc.rule, exc.line)
    return items


def columnar(path) -> list | tuple:
    try:
        items = list(web.read(path))
    except FileRejected as exc:
        return (exc.rule, exc.line)
    return [
        i if type(i).__name__ == "Rejection" or i.values[-1] is None else normalised(i)
        for i in items
    ]


def normalised(row):
    """The row with its extra JSON parsed: the key order may differ, jsonb keeps none."""
    return (row.line, row.values[:-1], json.loads(row.values[-1]))


def expected(path):
    """The reference, with NUL removed from the values as the load has always done (PostgreSQL
    text cannot hold it)."""
    ref = reference(path)
    if isinstance(ref, tuple):
        return ref
    out = []
    for i in ref:
        if type(i).__name__ == "Row":
            i = Row(i.line, tuple(v if v is None else v.replace("\x00", "") for v in i.values))
            if i.values[-1] is not None:
                i = normalised(i)
        out.append(i)
    return out


def test_many_chunks_with_planted_faults_give_what_the_per_line_path_gives(tmp_path, monkeypatch):
    lines = []
    for i in range(4000):
        event = {**GOOD, "event_id": f"e{i}"}
        if i % 3 == 0:
            event["sdk_ver"] = f"3.{i % 7}"
        if i % 89 == 4:
            event["msisdn"] = "138****5678"
        if i % 97 == 5:
            event["page"] = " /pay"
        if i % 211 == 7:
            event["amount"] = 50  # a number where text is due
        if i % 307 == 3:
            event["geo"] = {"city": "TY"}
        if i % 401 == 11:
            lines.append("{not json")
        if i % 503 == 13:
            lines.append("")
        lines.append(json.dumps(event, ensure_ascii=False))
    path = tmp_path / "web_events_20261001.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(web, "CHUNK_BYTES", 8192)

    got = columnar(path)

    assert got == expected(path)
    assert sum(1 for i in got if type(i).__name__ == "Rejection") > 40


@pytest.mark.parametrize("extra_keys", [False, True])
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_values_never_pass_the_columnar_path_differently(extra_keys, tmp_path, data):
    lines = []
    for i in range(data.draw(st.integers(1, 6))):
        event = {**GOOD, "event_id": f"e{i}"}
        for key in list(event):
            if data.draw(st.booleans()):
                event[key] = data.draw(
                    st.one_of(st.sampled_from(TRICKY), st.text(max_size=5)), label=key
                )
        if extra_keys:
            for key in data.draw(st.lists(st.sampled_from(["ua", "x y", "é"]), max_size=2)):
                event[key] = data.draw(st.sampled_from(TRICKY), label=f"extra {key}")
        if data.draw(st.booleans()):
            event.pop(data.draw(st.sampled_from(sorted(GOOD))))
        lines.append(json.dumps(event, ensure_ascii=data.draw(st.booleans())))
    path = tmp_path / "web_events_20261001.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert columnar(path) == expected(path)
