"""app — the mobile app's daily export: ``app/app_events_YYYYMMDD.json``, one JSON document.

The document is written with one event a line (line k+1 holds event k), so it streams; the
events go to a side file first because ``count`` comes before them and is only known at the end.
A uid is bound to one customer's number; launch events and, for some uids, every event before
their first log-in come without it, so only the timeless uid link identifies them.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from channel_dw.generate.clock import (
    CURVE_ONLINE,
    epoch_seconds,
    hour_table,
    random_second,
    sorted_seconds,
)
from channel_dw.generate.common import WRITE_BUFFER, FileJob, World, clean_job, open_text
from channel_dw.generate.people import APP_USER, LATE_BIND, impossible_phone, shape_phone
from channel_dw.generate.plants import (
    EXAMPLE_CAP,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_UNKNOWN_CODE,
)
from channel_dw.generate.web import SHAPES

log = logging.getLogger(__name__)

# code, weight, success rate, amounts in fen (None: no amount)
APP_CODES: tuple[tuple[str, int, float, tuple[int | None, ...]], ...] = (
    ("BILLQ01", 30, 1.0, (None,)),
    ("PAY01", 22, 0.96, (3000, 5000, 5000, 10000, 10000, 20000)),
    ("DATA01", 15, 0.94, (1000, 2000, 3000, 5000)),
    ("PLAN01", 7, 0.9, (None,)),
    ("CAMP01", 6, 0.86, (0, 9900, 19900, 29900)),
    ("VAS01", 8, 0.93, (500, 600, 1000)),
    ("PWD01", 5, 0.9, (None,)),
    ("BB01", 3, 0.82, (58800, 118800)),
    ("NUM01", 2, 0.85, (5000, 10000)),
    ("CMP01", 2, 1.0, (None,)),
)
_CODE_TABLE = bytes(i for i, c in enumerate(APP_CODES) for _ in range(c[1]))  # 100 entries
_ERRORS = ("E1001", "E2003", "E3005", "TIMEOUT", "E9999")
_UNKNOWN_CODES = ("GIFT01", "LOTTO01", "XYZ01")
# not an integer, so the reader's bad_timestamp (a null or empty time_ms is its missing_field)
_BAD_TIMES = ('"17592777021x3"', '"2026-10-01 08:00"', '"2026-10-01T08:00:00+08:00"', '"NaN"')
_VIEWS = ("home", "bill", "package", "flow", "mall", "me", "service")
_SCORES = (5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 2, 1, 1)
GUEST_SHARE = 0.06
RATE_SHARE = 0.14
REGISTER_RATE = 0.0002
UNBOUND_CANDIDATES = 40
AVERAGE_EVENTS = 3.9


class _AppWriter:
    def __init__(self, job: FileJob, world: World, out: IO[str]) -> None:
        self.job = job
        self.world = world
        self.people = world.people
        self.rng = job.rng
        self.side = job.side_rng
        self.out = out
        self.buf: list[str] = []
        self.seq = 0
        self.hours = hour_table(CURVE_ONLINE)
        self.midnight_ms = epoch_seconds(job.day) * 1000

    def emit(
        self,
        sec: int,
        uid: str,
        phone: str | None,
        shape: int,
        device: tuple[str, str],
        kind: str,
        body: str = "",
        code: str | None = None,
        late: str | None = None,
    ) -> None:
        job, rng = self.job, self.rng
        time_ms = str(self.midnight_ms + sec * 1000 + int(rng.random() * 1000))
        msisdn = None if phone is None else (phone if shape == 0 else shape_phone(phone, shape))
        self.seq += 1
        seq = self.seq  # the event's 1-based position in "events"
        eid = f"a-{job.ymd}-{seq:07d}"
        bad = job.bad
        rule = None
        if seq - 1 >= bad.next_at:
            if bad.kind == RULE_BAD_TIMESTAMP:
                rule, column = bad.kind, "time_ms"
                time_ms = _BAD_TIMES[int(self.side.random() * len(_BAD_TIMES))]
                value = json.loads(time_ms)
            elif bad.kind == RULE_BAD_MSISDN and phone is not None:
                rule, column = bad.kind, "user.msisdn"
                msisdn = value = impossible_phone(phone)
            elif bad.kind == RULE_UNKNOWN_CODE and code is not None:
                rule, column = bad.kind, "biz.code"
                value = _UNKNOWN_CODES[int(self.side.random() * len(_UNKNOWN_CODES))]
                body = body.replace(f'"code":"{code}"', f'"code":"{value}"')
            if rule:
                bad.advance()
        msisdn_js = "null" if msisdn is None else f'"{msisdn}"'
        user = f'{{"uid":"{uid}","msisdn":{msisdn_js}}}'
        self.buf.append(
            f',\n{{"id":"{eid}","time_ms":{time_ms},"user":{user},'
            f'"device":{{"os":"{device[0]}","app_version":"{device[1]}"}},"type":"{kind}"{body}}}'
        )
        if rule:
            job.plants.bad_row("app", job.name, seq, rule, eid, column, value)
        elif msisdn is not None:
            job.phone(shape, phone or "", seq, "user.msisdn", msisdn)
        if late:
            job.late.append((seq, late))
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self) -> None:
        self.out.write("".join(self.buf))
        self.buf.clear()

    def session(self, t: int, limit: int, i: int, late: str | None, register: str = "") -> None:
        rng, people, job = self.rng, self.people, self.job
        if i < 0:  # a guest who never logs in
            uid = f"U9{rng.getrandbits(30) % 100_000_000:08d}"
            device = ("android", "9.2.1") if rng.random() < 0.7 else ("ios", "9.2.0")
            phone, known = None, False
        else:
            uid = people.uid(i)
            device = people.device(i)
            phone = people.first_msisdn(i)  # a uid stays bound to the number it was first seen with
            known = not (
                people.flags[i] & LATE_BIND and job.day_index < people.bind_day_index(i)
            ) or bool(register)
        shape = SHAPES[int(rng.random() * 1024)]
        step = self._step
        first_phone = phone if known and rng.random() < 0.6 else None
        if phone is not None and not known:
            self._unbound_example(uid, i)
        elif known and self.world.unbound_uids and uid in self.world.unbound_uids:
            self._bound(uid)
        self.emit(t, uid, first_phone, shape, device, "launch", late=late)
        phone = phone if known else None
        if register:
            t = step(t, limit, 20, 100)
            self.emit(t, uid, phone, shape, device, "register", late=late)
            if register == "open":
                self.biz(step(t, limit, 20, 60), uid, phone, shape, device, 8, late, force_ok=True)
        for _ in range(1 + int(rng.random() * 3)):
            t = step(t, limit)
            view = _VIEWS[int(rng.random() * len(_VIEWS))]
            self.emit(t, uid, phone, shape, device, "view", f',"page":"{view}"', late=late)
        if i < 0:
            return
        u = rng.random()
        n_biz = 0 if u < 0.35 else 2 if u > 0.88 else 1
        for _ in range(n_biz):
            t = step(t, limit, 10, 90)
            self.biz(t, uid, phone, shape, device, _CODE_TABLE[int(rng.random() * 100)], late)
        if n_biz and rng.random() < RATE_SHARE * 2:
            score = _SCORES[int(rng.random() * len(_SCORES))]
            body = f',"rating":{{"score":{score}}}'
            self.emit(step(t, limit), uid, phone, shape, device, "rate", body, late=late)

    def biz(
        self,
        t: int,
        uid: str,
        phone: str | None,
        shape: int,
        device: tuple[str, str],
        k: int,
        late: str | None,
        force_ok: bool = False,
    ) -> None:
        rng = self.rng
        code, _w, success, amounts = APP_CODES[k]
        amount = amounts[int(rng.random() * len(amounts))]
        ok = force_ok or rng.random() < success
        err = "null" if ok else f'"{_ERRORS[int(rng.random() * len(_ERRORS))]}"'
        body = (
            f',"biz":{{"code":"{code}","amount_fen":{"null" if amount is None else amount},'
            f'"status":{1 if ok else 0},"err":{err}}}'
        )
        self.emit(t, uid, phone, shape, device, "biz", body, code, late)

    def _step(self, t: int, limit: int, lo: int = 3, spread: int = 40) -> int:
        return min(limit, t + lo + int(self.rng.random() * spread))

    def _unbound_example(self, uid: str, i: int) -> None:
        """Remember a uid seen without its number; it is listed once it is seen with it."""
        pending = self.world.unbound_uids
        if self.job.plants.enabled and len(pending) < UNBOUND_CANDIDATES and uid not in pending:
            pending[uid] = {
                "file": self.job.name,
                "line": self.seq + 1,
                "customer": self.people.customer_id(i),
            }

    def _bound(self, uid: str) -> None:
        where = self.world.unbound_uids.pop(uid)
        self.job.plants.add(
            "app_uid_without_msisdn",
            "identified_by_link",
            source="app",
            file=where["file"],
            line=where["line"],
            uid=uid,
            customer=where["customer"],
            bound_in=self.job.name,
            cap=EXAMPLE_CAP,
        )

    def run(self) -> None:
        job, rng, people = self.job, self.rng, self.people
        specials: list[tuple[int, str, int]] = []
        for i in people.opened_on(job.day_index):
            if people.flags[i] & APP_USER:
                what = "open" if people.open_channel(i) == "APP" else "register"
                specials.append((random_second(rng, self.hours), what, i))
        x = len(people.app_users) * REGISTER_RATE
        for _ in range(int(x) + (rng.random() < x - int(x))):
            i = people.pick(rng, people.app_users, job.day_index)
            specials.append((random_second(rng, self.hours), "register", i))
        specials.sort()
        k = 0
        for sec in sorted_seconds(rng, max(1, round(job.target / AVERAGE_EVENTS)), CURVE_ONLINE):
            while k < len(specials) and specials[k][0] <= sec:
                s, what, i = specials[k]
                self.session(s, 86399, i, None, what)
                k += 1
            late_days = job.late_offset(rng)
            late = None
            if late_days:
                late = (job.day - timedelta(days=late_days)).isoformat()
                sec = -86400 * late_days + random_second(rng, self.hours)
            limit = 86399 - 86400 * late_days
            i = (
                -1
                if rng.random() < GUEST_SHARE
                else people.pick(rng, people.app_users, job.day_index)
            )
            self.session(sec, limit, i, late)
        for s, what, i in specials[k:]:
            self.session(s, 86399, i, None, what)
        self.flush()


def write_app_file(job: FileJob, world: World, truncate_by: int = 0) -> int:
    """Write one app export; returns the events written.

    With ``truncate_by`` > 0 the file declares that many more events than it holds (the planted
    truncated file; it stays valid JSON so that only the count rule catches it).
    """
    part = job.path.with_name(job.path.name + ".part")
    with open_text(part) as out:
        writer = _AppWriter(job, world, out)
        writer.run()
    events = writer.seq
    declared = events + truncate_by
    if truncate_by:
        job.info["declared_count"] = declared
    with open_text(job.path) as out, open(part, encoding="utf-8") as events_text:
        out.write(
            f'{{"export_date":"{job.day.isoformat()}","app":"hall-app","count":{declared},'
            f'"events":['
        )
        first = events_text.read(2)  # the ",\n" before the first event becomes "\n"
        if first:
            out.write("\n")
        shutil.copyfileobj(events_text, out, WRITE_BUFFER)
        out.write("\n]}\n")
    part.unlink()
    return events


def write_app_events(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid app export of about ``rows`` events (benchmarks); returns the count."""
    world, job = clean_job("app", path, rows, seed, day)
    return write_app_file(job, world)
