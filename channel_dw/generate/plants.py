"""The awkward cases the generator plants on purpose, and the record of where they are.

Every planted case becomes one :class:`Planted` entry of ``manifest.json`` with the outcome the
loader is expected to reach (``quarantined``, ``rejected``, ``skipped`` ...), so tests and the
demo can check the loader against it. Frequent, harmless cases (late records, duplicate web
events, examples of status changes) are listed up to a cap and counted in full.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# rules a loader names when it quarantines a row or rejects a file
RULE_BAD_TIMESTAMP = "bad_timestamp"
RULE_BAD_MSISDN = "bad_phone"
RULE_UNKNOWN_CODE = "unknown_code"
RULE_COUNT_MISMATCH = "count_mismatch"
RULE_BAD_TRAILER = "bad_trailer"
ROW_RULES: tuple[str, ...] = (RULE_BAD_TIMESTAMP, RULE_BAD_MSISDN, RULE_UNKNOWN_CODE)

BAD_ROW_RATE = 0.0002  # per record and per rule
EXAMPLE_CAP = 25  # entries listed per kind of frequent case; all are counted

# garbage that no timestamp parser accepts, in the source's own layout
BAD_LOCAL_TIMES = ("{y}-13-{d} 08:15:00", "{y}-{m}-{d} 25:61:00", "0000-00-00 00:00:00", "#VALUE!")
BAD_COMPACT_TIMES = ("{y}13{d}081500", "{y}{m}{d}256100", "00000000000000", "{y}{m}{d}08:15")
BAD_ISO_TIMES = ("{y}-{m}-{d}T25:61:07.000+08:00", "{y}-13-{d}T08:15:02.123+08:00", "yesterday")


def bad_time(rng: random.Random, patterns: tuple[str, ...], ymd: str) -> str:
    y, m, d = ymd[:4], ymd[4:6], ymd[6:8]
    return patterns[int(rng.random() * len(patterns))].format(y=y, m=m, d=d)


@dataclass(slots=True)
class Planted:
    """One planted case: what, where (file relative to the landing root, line), expected outcome.

    ``line`` is 1-based: the physical line of a text file (a CSV header is line 1), the position
    of the event in an app file's ``events``, the sheet row of a workbook (header row 1).
    """

    kind: str
    expect: str
    source: str | None = None
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.source is not None:
            out["source"] = self.source
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        out["expect"] = self.expect
        if self.rule is not None:
            out["rule"] = self.rule
        out.update(self.detail)
        return out


class Plants:
    """Collects planted cases; a disabled collector (clean benchmark files) ignores them."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.items: list[Planted] = []
        self.counts: Counter[str] = Counter()
        self._listed: Counter[str] = Counter()
        self._shapes: set[tuple[str, int]] = set()

    def add(
        self,
        kind: str,
        expect: str,
        *,
        source: str | None = None,
        file: str | None = None,
        line: int | None = None,
        rule: str | None = None,
        cap: int | None = None,
        **detail: Any,
    ) -> bool:
        """Count the case; list it unless ``cap`` cases of its kind are listed. True if listed."""
        if not self.enabled:
            return False
        self.counts[kind] += 1
        if cap is not None and self._listed[kind] >= cap:
            return False
        self._listed[kind] += 1
        self.items.append(Planted(kind, expect, source, file, line, rule, detail))
        return True

    def bad_row(
        self, source: str, file: str, line: int, rule: str, key: str, column: str, value: Any
    ) -> None:
        self.add(
            "bad_row",
            "quarantined",
            source=source,
            file=file,
            line=line,
            rule=rule,
            key=key,
            column=column,
            value=value,
        )

    def wants_shape(self, source: str, shape: int) -> bool:
        """True the first time a phone shape is written by a source (one example is listed)."""
        return self.enabled and (source, shape) not in self._shapes

    def phone_shape(
        self,
        source: str,
        shape: int,
        shape_name: str,
        file: str,
        line: int,
        column: str,
        value: str,
    ) -> None:
        self._shapes.add((source, shape))
        self.add(
            "phone_shape",
            "normalised",
            source=source,
            file=file,
            line=line,
            shape=shape_name,
            column=column,
            value=value,
        )


class BadRows:
    """Where the bad rows of one file go: record positions (0-based) and the rule each breaks.

    A writer checks ``seq >= bad.next_at`` for every record; when the due rule can be applied to
    the record (a phone to spoil, a code to replace) it corrupts the record and calls
    :meth:`advance`, otherwise the bad row moves on to the next suitable record.
    """

    __slots__ = ("_i", "_plan", "kind", "next_at")
    NEVER = 1 << 62

    def __init__(self, plan: list[tuple[int, str]] | None = None) -> None:
        self._plan = sorted(plan or [])
        self._i = 0
        self.next_at = self.NEVER
        self.kind = ""
        self._load()

    def _load(self) -> None:
        if self._i < len(self._plan):
            self.next_at, self.kind = self._plan[self._i]
        else:
            self.next_at, self.kind = self.NEVER, ""

    def advance(self) -> None:
        self._i += 1
        self._load()

    @classmethod
    def schedule(
        cls,
        rng: random.Random,
        expected: int,
        rules: tuple[str, ...],
        forced: list[str],
        rate: float = BAD_ROW_RATE,
    ) -> BadRows:
        expected = max(1, expected)
        plan: list[tuple[int, str]] = []
        for rule in rules:
            x = expected * rate
            count = int(x) + (rng.random() < x - int(x))
            plan.extend((int(rng.random() * expected), rule) for _ in range(count))
        early = max(1, min(expected // 2, 40))
        plan.extend((int(rng.random() * early), rule) for rule in forced)
        return cls(plan)
