"""halls — business hall transactions: ``halls/hall_txn_YYYYMMDD.csv``.

Opening hours only. Besides ordinary business, new customers open their number here, and store
orders bought online are collected (``B_PICKUP`` naming the store order in ``ref_order_no``).
"""

from __future__ import annotations

import csv
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from channel_dw.generate.clock import CURVE_HALL, hour_table, random_second, sorted_seconds
from channel_dw.generate.common import FileJob, Pickup, World, clean_job, open_text
from channel_dw.generate.people import (
    HALLS_PER_REGION,
    STAFF_PER_HALL,
    hall_code,
    impossible_phone,
    shape_phone,
    weight_table,
)
from channel_dw.generate.plants import (
    BAD_LOCAL_TIMES,
    EXAMPLE_CAP,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    bad_time,
)

log = logging.getLogger(__name__)

HEADER: tuple[str, ...] = (
    "txn_id", "hall_code", "region_code", "msisdn", "txn_time", "biz_code", "amount", "result",
    "staff_id", "ref_order_no",
)  # fmt: skip

# code, weight, amounts in yuan ("" = none)
HALL_CODES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("B_QRY", 14, ("",)),
    ("B_PAY", 24, ("50.00", "100.00", "100.00", "200.00", "300.00")),
    ("B_PLAN", 10, ("",)),
    ("B_CAMP", 8, ("0.00", "299.00", "599.00", "")),
    ("B_VAS", 7, ("5.00", "10.00", "")),
    ("B_DATA", 8, ("10.00", "30.00", "50.00")),
    ("B_OPEN", 3, ("50.00", "100.00")),
    ("B_BB", 4, ("588.00", "1200.00")),
    ("B_PWD", 9, ("",)),
    ("B_DEV", 4, ("1999.00", "2999.00", "4599.00", "6999.00")),
    ("B_CMP", 3, ("",)),
)
_TABLE = weight_table([c[1] for c in HALL_CODES])
_UNKNOWN = ("B_XYZ", "B_GIFT", "B_LOTTO")
_SHAPES = weight_table((90, 4, 3, 3))
SUCCESS_RATE = 0.96


def staff_id(hall: str, k: int) -> str:
    return f"{hall.replace('-', '')}{k + 1:02d}"


class _HallWriter:
    def __init__(self, job: FileJob, world: World, pickups: list[Pickup]) -> None:
        self.job = job
        self.world = world
        self.people = world.people
        self.rng = job.rng
        self.pickups = pickups
        self.hours = hour_table(CURVE_HALL)
        self.seq = 0
        self.shape = -1

    def ordinary(self, sec: int) -> list[str]:
        rng, people = self.rng, self.people
        i = people.pick(rng, None, self.job.day_index)
        r, k = people.hall_of(i)
        u = rng.random()
        if u > 0.95:
            r = int(rng.random() * 11)
        if u > 0.8:
            k = int(rng.random() * HALLS_PER_REGION[r])
        code, _w, amounts = HALL_CODES[_TABLE[int(rng.random() * 1024)]]
        amount = amounts[int(rng.random() * len(amounts))]
        result = "OK" if rng.random() < SUCCESS_RATE else "FAIL"
        return self.row(sec, hall_code(r, k), i, code, amount, result, "")

    def row(
        self,
        sec: int,
        hall: str,
        i: int,
        code: str,
        amount: str,
        result: str,
        ref: str,
        phone: str | None = None,
    ) -> list[str]:
        rng = self.rng
        self.seq += 1
        if phone is None:
            phone = self.people.msisdn(i)
            shape = _SHAPES[int(rng.random() * 1024)]
            self.shape = shape
            if shape:
                phone = shape_phone(phone, shape)
        else:
            self.shape = -1
        staff = staff_id(hall, int(rng.random() * STAFF_PER_HALL))
        return [
            f"H{self.job.ymd}{self.seq:07d}",
            hall,
            hall[:2],
            phone,
            self.job.text.iso(sec),
            code,
            amount,
            result,
            staff,
            ref,
        ]

    def corrupt(self, row: list[str], line: int) -> None:
        job, side, bad = self.job, self.job.side_rng, self.job.bad
        rule = bad.kind
        if rule == RULE_BAD_TIMESTAMP:
            col = 4
            row[4] = bad_time(side, BAD_LOCAL_TIMES, job.ymd)
        elif rule == RULE_BAD_MSISDN:
            col = 3
            row[3] = impossible_phone("".join(c for c in row[3] if c.isdigit())[-11:])
        else:
            col = 5
            row[5] = _UNKNOWN[int(side.random() * len(_UNKNOWN))]
        bad.advance()
        job.plants.bad_row("halls", job.name, line, rule, row[0], HEADER[col], row[col])

    def specials(self) -> list[tuple[int, str, int | Pickup]]:
        job, people, rng = self.job, self.people, self.rng
        out: list[tuple[int, str, int | Pickup]] = [(p.second, "pickup", p) for p in self.pickups]
        for i in people.opened_on(job.day_index):
            if people.open_channel(i) == "HALL":
                out.append((random_second(rng, self.hours), "open", i))
        out.sort(key=lambda s: (s[0], s[1]))
        return out

    def special(self, item: tuple[int, str, int | Pickup]) -> list[str]:
        sec, what, obj = item
        rng = self.rng
        if what == "open":
            assert isinstance(obj, int)
            i = obj
            r, k = self.people.hall_of(i)
            amount = "50.00" if rng.random() < 0.7 else "100.00"
            return self.row(sec, hall_code(r, k), i, "B_OPEN", amount, "OK", "")
        p = obj
        assert isinstance(p, Pickup)
        return self.row(sec, p.hall, p.customer, "B_PICKUP", "", "OK", p.order_no, p.phone)

    def run(self, out: Any) -> int:
        job, rng = self.job, self.rng
        out.writerow(HEADER)
        specials = self.specials()
        k, line = 0, 1
        times = sorted_seconds(rng, job.target, CURVE_HALL)
        for sec in times:
            while k < len(specials) and specials[k][0] <= sec:
                line += 1
                row = self.special(specials[k])
                self.note_special(specials[k], row, line)
                out.writerow(row)
                k += 1
            late_days = job.late_offset(rng)
            if late_days:
                sec = -86400 * late_days + random_second(rng, self.hours)
            row = self.ordinary(sec)
            line += 1
            if self.seq - 1 >= job.bad.next_at:
                self.corrupt(row, line)
            elif self.shape >= 0:
                job.phone(self.shape, row[3], line, "msisdn", row[3])
            if late_days:
                job.late.append((line, (job.day - timedelta(days=late_days)).isoformat()))
            out.writerow(row)
        for item in specials[k:]:
            line += 1
            row = self.special(item)
            self.note_special(item, row, line)
            out.writerow(row)
        return line - 1

    def note_special(self, item: tuple[int, str, int | Pickup], row: list[str], line: int) -> None:
        if item[1] != "pickup":
            return
        p = item[2]
        assert isinstance(p, Pickup)
        self.job.plants.add(
            "o2o_pickup",
            "linked",
            source="halls",
            file=self.job.name,
            line=line,
            ref_order_no=p.order_no,
            platform=p.platform,
            hall_code=p.hall,
            cap=EXAMPLE_CAP,
        )


def write_halls_file(job: FileJob, world: World) -> int:
    """Write one hall transactions file; returns the number of transactions."""
    writer = _HallWriter(job, world, world.pickups.pop(job.day, []))
    with open_text(job.path) as f:
        return writer.run(csv.writer(f, lineterminator="\n"))


def write_hall_txn(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid hall transactions file of about ``rows`` rows (benchmarks); returns it."""
    world, job = clean_job("halls", path, rows, seed, day)
    return write_halls_file(job, world)
