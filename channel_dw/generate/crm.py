"""crm — the customer master: ``crm/crm_customers_YYYYMMDD.csv``.

The first file of the landing root is a full snapshot; every later file is a delta of the
customers created or changed that day: tier moves, region moves, suspensions and closures, e-mail
edits, a few new numbers. Changes are applied to the population as they are written, so the other
sources of the same and later days see the customer's current region and number.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, timedelta
from pathlib import Path

from channel_dw.generate.clock import CURVE_CRM, hms_table, hour_table, random_second
from channel_dw.generate.common import FileJob, World, clean_job, open_text
from channel_dw.generate.people import (
    ACTIVE,
    CLOSED,
    REGIONS,
    STATUSES,
    SUSPENDED,
    TIERS,
    Population,
    impossible_phone,
    mix64,
    shape_phone,
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
    "customer_id", "msisdn", "member_id", "email", "region_code", "value_tier", "status",
    "open_date", "updated_at",
)  # fmt: skip
CHANGE_RATE = 0.0025  # customers changed per customer and day
FORMATTED_PHONE_SHARE = 0.005  # CRM rows whose number was typed with spaces or a country code

# change kind, weight (out of 100)
_CHANGES = (("tier", 40), ("status", 20), ("region", 8), ("email", 12), ("msisdn", 3), ("none", 17))
_CHANGE_TABLE = bytes(k for k, (_n, w) in enumerate(_CHANGES) for _ in range(w))


def _row(people: Population, i: int, updated_at: str, phone_shape: int = 0) -> list[str]:
    msisdn = people.msisdn(i)
    return [
        people.customer_id(i),
        msisdn if phone_shape == 0 else shape_phone(msisdn, phone_shape),
        people.member_id(i) or "",
        people.email(i),
        REGIONS[people.region[i]],
        TIERS[people.tier[i]],
        STATUSES[people.status[i]],
        people.open_date(i).isoformat(),
        updated_at,
    ]


def write_crm_snapshot(job: FileJob, world: World) -> int:
    """The full snapshot: every customer open on the first day, as the CRM holds them."""
    people = world.people
    hms = hms_table()
    start = job.day
    key = mix64(world.seed ^ 0x5A5A)
    hours = hour_table(CURVE_CRM)
    count = 0
    with open_text(job.path) as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(HEADER)
        for i in range(people.size):
            if people.open_day_index(i) > 0:
                continue
            h = mix64(key ^ i)
            if i >= people.base:  # opened on the snapshot's own day
                stamp = job.text.iso(random_second(job.rng, hours))
            else:
                opened = people.open_date(i)
                span = max(1, min(730, (start - opened).days))
                day = start - timedelta(days=1 + h % span)
                second = hours[(h >> 20) & 1023] * 3600 + (h >> 32) % 3600
                stamp = f"{max(day, opened).isoformat()} {hms[second]}"
            shape = 0
            if (h >> 48) % 1000 < FORMATTED_PHONE_SHARE * 1000:
                shape = 1 + (h >> 58) % 3
            row = _row(people, i, stamp, shape)
            count += 1
            line = count + 1
            if count - 1 >= job.bad.next_at:
                _spoil(job, row, line, job.bad.kind)
                job.bad.advance()
            elif shape or count == 1:
                job.phone(shape, row[1], line, "msisdn", row[1])
            out.writerow(row)
    job.info["snapshot"] = True
    return count


def _spoil(job: FileJob, row: list[str], line: int, rule: str) -> None:
    if rule == RULE_BAD_MSISDN:
        col = 1
        row[1] = impossible_phone(row[1])
    else:
        rule, col = RULE_BAD_TIMESTAMP, 8
        row[8] = bad_time(job.side_rng, BAD_LOCAL_TIMES, job.ymd)
    job.plants.bad_row("crm", job.name, line, rule, row[0], HEADER[col], row[col])


class _Delta:
    def __init__(self, job: FileJob, world: World) -> None:
        self.job = job
        self.world = world
        self.people = world.people
        self.rng = job.rng
        self.hours = hour_table(CURVE_CRM)
        self.rows: list[tuple[int, list[str], dict[str, object] | None]] = []
        self.changed: set[int] = set()

    def stamp(self) -> tuple[int, str]:
        sec = random_second(self.rng, self.hours)
        return sec, self.job.text.iso(sec)

    def add(self, i: int, note: dict[str, object] | None = None, rule: str = "") -> None:
        sec, stamp = self.stamp()
        row = _row(self.people, i, stamp)
        if rule:
            note = {"rule": rule}
        self.rows.append((sec, row, note))

    def change(self, i: int, what: str) -> None:
        people, rng = self.people, self.rng
        note: dict[str, object] | None = None
        if what == "tier":
            old = people.tier[i]
            new = old - 1 if old == 3 or (old > 0 and rng.random() < 0.45) else old + 1
            people.tier[i] = new
            note = {"kind": "crm_tier_change", "from": TIERS[old], "to": TIERS[new]}
        elif what == "status":
            old = people.status[i]
            if old == SUSPENDED:
                new = ACTIVE if rng.random() < 0.7 else CLOSED
            else:
                new = SUSPENDED if rng.random() < 0.7 else CLOSED
            people.status[i] = new
            note = {"kind": "crm_status_change", "from": STATUSES[old], "to": STATUSES[new]}
        elif what == "region":
            old = people.region[i]
            new = (old + 1 + int(rng.random() * 10)) % 11
            people.region[i] = new
            note = {"kind": "crm_region_move", "from": REGIONS[old], "to": REGIONS[new]}
        elif what == "email":
            before = people.email(i)
            after = people.restyle_email(i) or ""
            note = {"kind": "crm_email_change", "from": before, "to": after}
        elif what == "msisdn":
            if people.has_changed_msisdn(i):
                return self.change(i, "none")
            before = people.msisdn(i)
            note = {"kind": "crm_msisdn_change", "from": before, "to": people.change_msisdn(i)}
        self.changed.add(i)
        self.add(i, note)

    def candidate(self) -> int:
        """An existing, not closed customer not yet changed today (uniformly chosen)."""
        people, rng, day = self.people, self.rng, self.job.day_index
        for _ in range(20):
            i = int(rng.random() * people.size)
            if people.open_day_index(i) < day and people.status[i] != CLOSED:
                if i not in self.changed:
                    return i
        return -1

    def heavy_user(self) -> int:
        """An active customer who uses many channels (for the changes planted on purpose)."""
        people, rng = self.people, self.rng
        for _ in range(50):
            i = people.pick(rng, None, self.job.day_index)
            if people.status[i] == ACTIVE and i < people.base and i not in self.changed:
                if not people.has_changed_msisdn(i):
                    return i
        return self.candidate()


def write_crm_delta(job: FileJob, world: World) -> int:
    """A delta file: customers opened or changed on the day; returns the rows."""
    people, rng, plants = world.people, job.rng, job.plants
    delta = _Delta(job, world)
    for i in people.opened_on(job.day_index):
        delta.add(i, {"kind": "crm_new_customer"})
    for _ in range(job.target):
        i = delta.candidate()
        if i >= 0:
            delta.change(i, _CHANGES[_CHANGE_TABLE[int(rng.random() * 100)]][0])
    specials = world.specials
    if plants.enabled and specials is not None:
        if specials.region_move == job.day_index:
            delta.change(delta.heavy_user(), "region")
        if specials.msisdn_change == job.day_index:
            delta.change(delta.heavy_user(), "msisdn")
    bad = job.bad
    while bad.next_at != bad.NEVER:  # the current state sent again, with one field spoilt
        i = delta.candidate()
        if i >= 0:
            delta.add(i, rule=bad.kind)
        bad.advance()
    delta.rows.sort(key=lambda r: (r[0], r[1][0]))
    with open_text(job.path) as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(HEADER)
        for n, (_sec, row, note) in enumerate(delta.rows, start=2):
            if note and "rule" in note:
                _spoil(job, row, n, str(note["rule"]))
            elif note:
                kind = str(note.pop("kind"))
                plants.add(
                    kind,
                    _EXPECT[kind],
                    source="crm",
                    file=job.name,
                    line=n,
                    customer=row[0],
                    cap=EXAMPLE_CAP,
                    **note,
                )
            out.writerow(row)
    return len(delta.rows)


_EXPECT = {
    "crm_new_customer": "loaded",
    "crm_tier_change": "history_kept",
    "crm_status_change": "history_kept",
    "crm_region_move": "history_kept",
    "crm_email_change": "history_kept",
    "crm_msisdn_change": "both_numbers_identify",
}


def write_crm_customers(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid CRM snapshot of about ``rows`` customers (benchmarks); returns the count."""
    world, job = clean_job("crm", path, rows, seed, day)
    world = World(Population(rows, seed, day, 1), seed, day, 1, job.plants)
    return write_crm_snapshot(job, world)
