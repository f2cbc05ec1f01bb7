"""hotline — 10086 call detail records: ``hotline/hotline_cdr_YYYYMMDD.csv``.

GBK with the contract's 14 Chinese column names; from 2026-10-15 some days come as UTF-8 with a
BOM. Calls are IVR-only, handled by an agent, or abandoned in the queue; callers use any phone
shape or a landline, and the number verified in the IVR (受理号码) is sometimes missing.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import log1p
from pathlib import Path
from typing import Any

from channel_dw.generate.clock import CURVE_HOTLINE, hour_table, random_second, sorted_seconds
from channel_dw.generate.common import FileJob, World, clean_job, open_text
from channel_dw.generate.people import (
    AREA_CODES,
    REGIONS,
    impossible_phone,
    shape_phone,
    weight_table,
)
from channel_dw.generate.plants import (
    BAD_LOCAL_TIMES,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_UNKNOWN_CODE,
    bad_time,
)

log = logging.getLogger(__name__)

HEADER: tuple[str, ...] = (
    "呼叫流水号", "主叫号码", "受理号码", "进线时间", "IVR结束时间", "应答时间", "挂机时间",
    "服务类型", "坐席工号", "业务代码", "办理结果", "满意度", "是否投诉", "地市",
)  # fmt: skip
BOM_FROM = date(2026, 10, 15)  # the vendor may deliver UTF-8 with a BOM from this day on

IVR, AGENT, ABANDONED = "IVR自助", "人工", "放弃"
_IVR_CODES = ("1001", "1002", "3003", "3001", "4001", "3002")
_IVR_TABLE = weight_table((50, 20, 12, 5, 8, 5))
_AGENT_CODES = ("1001", "1002", "2001", "2002", "3001", "3002", "3003", "4001", "5001", "9001",
                "9002", "")  # fmt: skip
_AGENT_TABLE = weight_table((12, 6, 14, 10, 6, 6, 8, 5, 6, 8, 16, 3))
_NO_RESULT = frozenset({"1001", "9001", "9002", ""})  # enquiries and complaints: 办理结果 empty
_SCORES = ("5", "5", "5", "5", "5", "5", "5", "5", "5", "5", "4", "4", "4", "4", "4", "3", "3",
           "2", "1", "1")  # fmt: skip
_UNKNOWN_CODES = ("7777", "8801", "6003")
_SHAPES = weight_table((72, 10, 9, 9))
STRANGER_SHARE = 0.04
LANDLINE_SHARE = 0.07
EXAMPLES = 3


@dataclass
class Correction:
    """How a corrected redelivery differs from the first delivery (record positions, 0-based)."""

    drop: set[int] = field(default_factory=set)
    amend: set[int] = field(default_factory=set)
    extra: int = 0
    amended: list[str] = field(default_factory=list)  # call ids actually changed
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


class _HotlineWriter:
    def __init__(self, job: FileJob, world: World) -> None:
        self.job = job
        self.people = world.people
        self.rng = job.rng
        self.hours = hour_table(CURVE_HOTLINE)
        self.seq = 0
        self.shape = 0

    def call(self, sec: int) -> list[str]:
        job, rng, people = self.job, self.rng, self.people
        rnd = rng.random
        if rnd() < STRANGER_SHARE:
            phone = people.stranger_msisdn(rng)
            region = REGIONS[int(rnd() * 11)] if rnd() < 0.5 else ""
        else:
            i = people.pick(rng, None, job.day_index)
            phone = people.msisdn(i)
            region = REGIONS[people.region[i]] if rnd() < 0.96 else ""
        shape = -1
        if rnd() < LANDLINE_SHARE:
            area = AREA_CODES[region or "TY"]
            caller = f"{area}-{2_000_000 + int(rnd() * 7_999_999)}"
            verified = phone if rnd() < 0.6 else ""
        else:
            shape = _SHAPES[int(rnd() * 1024)]
            caller = phone if shape == 0 else shape_phone(phone, shape)
            verified = phone if rnd() < 0.85 else ""
        iso = job.text.iso
        ivr_end = sec + 20 + min(600, int(-50.0 * log1p(-rnd())))
        u = rnd()
        agent = score = answered = ""
        if u < 0.52:
            kind, code, hangup = IVR, _IVR_CODES[_IVR_TABLE[int(rnd() * 1024)]], ivr_end
            if rnd() < 0.12:
                score = _SCORES[int(rnd() * 20)]
        elif u < 0.955:
            kind = AGENT
            code = _AGENT_CODES[_AGENT_TABLE[int(rnd() * 1024)]]
            answer = ivr_end + min(900, int(-14.0 * log1p(-rnd())))
            hangup = answer + 40 + min(3600, int(-200.0 * log1p(-rnd())))
            answered = iso(answer)
            agent = f"GH{10_000 + int(rnd() * 420):05d}"
            if rnd() < 0.45:
                score = _SCORES[int(rnd() * 20)]
        else:
            kind = ABANDONED
            code = _AGENT_CODES[_AGENT_TABLE[int(rnd() * 1024)]] if rnd() < 0.5 else ""
            hangup = ivr_end + 5 + min(900, int(-35.0 * log1p(-rnd())))
        if kind == ABANDONED or code in _NO_RESULT:
            result = ""
        else:
            result = "成功" if rnd() < (0.95 if kind == IVR else 0.9) else "失败"
        complaint = "是" if code == "9001" or (kind == AGENT and rnd() < 0.02) else "否"
        self.seq += 1
        self.shape = shape
        return [
            f"HL{job.ymd}{self.seq:07d}",
            caller,
            verified,
            iso(sec),
            iso(ivr_end),
            answered,
            iso(hangup),
            kind,
            agent,
            code,
            result,
            score,
            complaint,
            region,
        ]

    def corrupt(self, row: list[str], line: int) -> bool:
        """Plant the due bad row in this record if it fits; True when done."""
        job, side, bad = self.job, self.job.side_rng, self.job.bad
        rule = bad.kind
        if rule == RULE_BAD_TIMESTAMP:
            col = 3
            row[3] = bad_time(side, BAD_LOCAL_TIMES, job.ymd)
        elif rule == RULE_BAD_MSISDN and row[2]:
            col = 2
            row[2] = impossible_phone(row[2])
        elif rule == RULE_UNKNOWN_CODE and row[9]:
            col = 9
            row[9] = _UNKNOWN_CODES[int(side.random() * len(_UNKNOWN_CODES))]
        else:
            return False
        bad.advance()
        job.plants.bad_row("hotline", job.name, line, rule, row[0], HEADER[col], row[col])
        return True

    def examples(self, row: list[str], line: int) -> None:
        job = self.job
        if self.shape >= 0:
            job.phone(self.shape, row[2], line, "主叫号码", row[1])
        elif job.plants.counts["landline_caller"] < EXAMPLES:
            job.plants.add(
                "landline_caller",
                "loaded",
                source="hotline",
                file=job.name,
                line=line,
                value=row[1],
                identified_by="受理号码" if row[2] else None,
                cap=EXAMPLES,
            )
        if not row[2] and job.plants.counts["empty_verified_number"] < EXAMPLES:
            job.plants.add(
                "empty_verified_number",
                "loaded",
                source="hotline",
                file=job.name,
                line=line,
                caller=row[1],
                cap=EXAMPLES,
            )

    def run(self, out: Any, fix: Correction | None) -> int:
        job, rng = self.job, self.rng
        out.writerow(HEADER)
        line = 1
        for sec in sorted_seconds(rng, job.target, CURVE_HOTLINE):
            late_days = job.late_offset(rng)
            if late_days:
                sec = -86400 * late_days + random_second(rng, self.hours)
            row = self.call(sec)
            pos = self.seq - 1
            if fix is not None:
                if pos in fix.drop:
                    fix.dropped.append(row[0])
                    continue
                if pos in fix.amend and _amend(row):
                    fix.amended.append(row[0])
            line += 1
            if not (pos >= job.bad.next_at and self.corrupt(row, line)) and job.plants.enabled:
                self.examples(row, line)
            if late_days:
                job.late.append((line, (job.day - timedelta(days=late_days)).isoformat()))
            out.writerow(row)
        if fix is not None:
            for _ in range(fix.extra):
                row = self.call(86399 - int(rng.random() * 1800))
                fix.added.append(row[0])
                out.writerow(row)
                line += 1
        return line - 1


def _amend(row: list[str]) -> bool:
    """A field the vendor fixed in the corrected file: a late survey score or a result."""
    if row[7] != ABANDONED and not row[11]:
        row[11] = "4"
    elif row[10] == "失败":
        row[10] = "成功"
    elif not row[13]:
        row[13] = "TY"
    else:
        return False
    return True


def hotline_encoding(day: date, bom: bool) -> str:
    return "utf-8-sig" if bom and day >= BOM_FROM else "gbk"


def write_hotline_file(
    job: FileJob, world: World, encoding: str = "gbk", fix: Correction | None = None
) -> int:
    """Write one CDR file in GBK or UTF-8 with BOM; returns the number of calls."""
    writer = _HotlineWriter(job, world)
    with open_text(job.path, encoding=encoding) as f:
        count = writer.run(csv.writer(f, lineterminator="\r\n"), fix)
    job.info["encoding"] = encoding
    return count


def write_hotline_cdr(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid GBK CDR file of about ``rows`` calls (benchmarks); returns the count."""
    world, job = clean_job("hotline", path, rows, seed, day)
    return write_hotline_file(job, world)
