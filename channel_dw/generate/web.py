"""web — the website's event log: ``web/web_events_YYYYMMDD.jsonl[.gz]``, one JSON object a line.

Visits (sessions) in time order: anonymous browsing, log-ins followed by business (a
``biz_submit`` and its ``biz_result`` share an ``order_id``), registrations of new users. The
collector's retries write some events twice (same ``event_id``); the vendor adds keys of its own.
"""

from __future__ import annotations

import logging
from array import array
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from channel_dw.generate.clock import CURVE_ONLINE, hour_table, random_second, sorted_seconds
from channel_dw.generate.common import FileJob, World, clean_job, open_text
from channel_dw.generate.people import (
    ACTIVE,
    WEB_USER,
    Population,
    impossible_phone,
    shape_phone,
    weight_table,
)
from channel_dw.generate.plants import (
    BAD_ISO_TIMES,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_UNKNOWN_CODE,
    bad_time,
)

log = logging.getLogger(__name__)

# code, weight, page, success rate, amounts (yuan text) or () when the business has none
WEB_CODES: tuple[tuple[str, int, str, float, tuple[str, ...]], ...] = (
    ("WEB_BILLQ", 30, "/bill/query", 1.0, ()),
    (
        "WEB_PAY",
        22,
        "/pay/recharge",
        0.95,
        ("30.00", "50.00", "50.00", "100.00", "100.00", "200.00"),
    ),
    ("WEB_DATA", 14, "/flow/pack", 0.93, ("10.00", "20.00", "30.00", "50.00")),
    ("WEB_PLAN", 7, "/plan/change", 0.88, ()),
    ("WEB_CAMP", 5, "/campaign/detail", 0.85, ("0.00", "99.00", "199.00", "299.00")),
    ("WEB_VAS", 8, "/vas/order", 0.92, ("5.00", "6.00", "10.00")),
    ("WEB_PWD", 6, "/account/password", 0.9, ()),
    ("WEB_BB", 3, "/broadband/apply", 0.8, ("588.00", "1188.00")),
    ("WEB_NUMOPEN", 2, "/number/select", 0.85, ("50.00", "100.00")),
    ("WEB_COMPLAIN", 3, "/service/complaint", 1.0, ()),
)
_CODE_TABLE = weight_table([c[1] for c in WEB_CODES])
_FAIL_REASONS = ("余额不足", "验证码错误", "系统繁忙，请稍后再试", "业务互斥，请先退订", "支付超时")
_UNKNOWN_CODES = ("WEB_GIFT", "WEB_LOTTERY", "WEB_XYZ")
_ENTRY_PAGES = ("/", "/", "/index", "/promo/5g", "/help/faq", "/store/phones")
_INNER_PAGES = ("/account/center", "/bill/detail", "/promo/5g", "/help/faq", "/plan/list")
_EXTRAS = (
    ',"ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0"',
    ',"ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"',
    ',"ab_bucket":"B"',
    ',"ab_bucket":"A","referrer":"https://www.baidu.com/"',
    ',"sdk_ver":"3.4.1","screen":"1920x1080"',
)
SHAPES = weight_table((80, 8, 6, 6))
ANONYMOUS_SHARE = 0.25
EXTRA_KEY_SHARE = 0.15
DUPLICATE_RATE = 0.004
REGISTER_RATE = 0.0002  # existing customers opening a web account, per customer and day
AVERAGE_EVENTS = 4.3  # events per session, to turn a target event count into sessions


def _q(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


class _WebWriter:
    def __init__(self, job: FileJob, world: World) -> None:
        self.job = job
        self.world = world
        self.people = world.people
        self.rng = job.rng
        self.side = job.side_rng
        self.buf: list[str] = []
        self.out: IO[str] | None = None
        self.shared = (0, 0)
        self.line = 0
        self.seq = 0
        self.sessions = 0
        self.orders = 0
        self.hours = hour_table(CURVE_ONLINE)
        self.forced_dup = int(self.side.random() * max(1, min(job.target, 60)))
        if not job.plants.enabled:
            self.forced_dup = -1

    # --- one event ------------------------------------------------------------------------

    def emit(
        self,
        sec: int,
        sid: str,
        vid: str,
        mid: str | None,
        phone: str | None,
        shape: int,
        event: str,
        page: str,
        code: str | None = None,
        oid: str | None = None,
        amount: str | None = None,
        result: str | None = None,
        reason: str | None = None,
        late: str | None = None,
    ) -> int:
        job, rng = self.job, self.rng
        ts = job.text.iso_t(sec, int(rng.random() * 1000))
        msisdn = None if phone is None else (phone if shape == 0 else shape_phone(phone, shape))
        extra = _EXTRAS[int(rng.random() * len(_EXTRAS))] if rng.random() < EXTRA_KEY_SHARE else ""
        seq = self.seq
        self.seq += 1
        eid = f"ev-{job.ymd}-{seq:08d}"
        bad = job.bad
        rule = None
        if seq >= bad.next_at:
            if bad.kind == RULE_BAD_TIMESTAMP:
                rule, column = bad.kind, "ts"
                ts = value = bad_time(self.side, BAD_ISO_TIMES, job.ymd)
            elif bad.kind == RULE_BAD_MSISDN and phone is not None:
                rule, column = bad.kind, "msisdn"
                msisdn = value = impossible_phone(phone)
            elif bad.kind == RULE_UNKNOWN_CODE and code is not None:
                rule, column = bad.kind, "biz_code"
                code = value = _UNKNOWN_CODES[int(self.side.random() * len(_UNKNOWN_CODES))]
            if rule:
                bad.advance()
        text = (
            f'{{"event_id":"{eid}","ts":"{ts}","session_id":"{sid}","visitor_id":"{vid}",'
            f'"member_id":{_q(mid)},"msisdn":{_q(msisdn)},"event":"{event}",'
            f'"biz_code":{_q(code)},"order_id":{_q(oid)},"amount":{_q(amount)},'
            f'"result":{_q(result)},"fail_reason":{_q(reason)},"page":"{page}"{extra}}}\n'
        )
        self.line += 1
        line = self.line
        buf = self.buf
        buf.append(text)
        if rule:
            job.plants.bad_row("web", job.name, line, rule, eid, column, value)
        else:
            if msisdn is not None:
                job.phone(shape, phone, line, "msisdn", msisdn)
            if job.plants.enabled and (
                seq == self.forced_dup or self.side.random() < DUPLICATE_RATE
            ):
                buf.append(text)
                self.line += 1
                job.dups.append((line, line + 1))
        if late:
            job.late.append((line, late))
        if len(buf) >= 4096:
            self.flush()
        return line

    def flush(self) -> None:
        assert self.out is not None
        self.out.write("".join(self.buf))
        self.buf.clear()

    # --- sessions -------------------------------------------------------------------------

    def _new_session(self) -> str:
        self.sessions += 1
        return f"s{self.job.ymd}{self.sessions:07d}"

    def _step(self, t: int, limit: int, lo: int = 3, spread: int = 45) -> int:
        return min(limit, t + lo + int(self.rng.random() * spread))

    def anonymous(self, t: int, limit: int, late: str | None) -> None:
        rng = self.rng
        sid, vid = self._new_session(), f"v{rng.getrandbits(64):016x}"
        pages = 1 + int(rng.random() * 4)
        for k in range(pages):
            page = _ENTRY_PAGES[int(rng.random() * 6)] if k == 0 else _INNER_PAGES[k % 5]
            self.emit(t, sid, vid, None, None, 0, "page_view", page, late=late)
            t = self._step(t, limit, 5, 90)

    def logged_in(
        self, t: int, limit: int, late: str | None, i: int, vid: str | None = None
    ) -> int:
        rng, people = self.rng, self.people
        sid = self._new_session()
        if vid is None:
            vid = people.visitor_id(i, 0 if rng.random() < 0.8 else 1)
        mid, phone = people.member_id(i), people.msisdn(i)
        shape = SHAPES[int(rng.random() * 1024)]
        self.emit(
            t, sid, vid, None, None, 0, "page_view", _ENTRY_PAGES[int(rng.random() * 6)], late=late
        )
        t = self._step(t, limit)
        login_line = self.emit(t, sid, vid, mid, phone, shape, "login", "/login", late=late)
        for _ in range(int(rng.random() * 2.2)):
            t = self._step(t, limit)
            page = _INNER_PAGES[int(rng.random() * 5)]
            self.emit(t, sid, vid, mid, phone, shape, "page_view", page, late=late)
        u = rng.random()
        for _ in range(0 if u < 0.05 else 2 if u > 0.82 else 1):
            code, _w, page, success, amounts = WEB_CODES[_CODE_TABLE[int(rng.random() * 1024)]]
            self.business(t, limit, sid, vid, mid, phone, shape, code, page, success, amounts, late)
            t = self._step(t, limit, 10, 120)
        return login_line

    def business(
        self,
        t: int,
        limit: int,
        sid: str,
        vid: str,
        mid: str | None,
        phone: str,
        shape: int,
        code: str,
        page: str,
        success: float,
        amounts: tuple[str, ...],
        late: str | None,
    ) -> None:
        rng = self.rng
        self.orders += 1
        oid = f"WO{self.job.ymd}{self.orders:07d}"
        amount = amounts[int(rng.random() * len(amounts))] if amounts else None
        t = self._step(t, limit, 5, 60)
        self.emit(t, sid, vid, mid, phone, shape, "biz_submit", page, code, oid, amount, late=late)
        ok = rng.random() < success
        reason = None if ok else _FAIL_REASONS[int(rng.random() * len(_FAIL_REASONS))]
        t = self._step(t, limit, 1, 8)
        self.emit(
            t,
            sid,
            vid,
            mid,
            phone,
            shape,
            "biz_result",
            page,
            code,
            oid,
            amount,
            "success" if ok else "fail",
            reason,
            late,
        )

    def register(self, t: int, i: int, opens_here: bool) -> None:
        people, rng = self.people, self.rng
        limit = 86399
        sid, vid = self._new_session(), people.visitor_id(i, 0)
        mid, phone = people.member_id(i), people.msisdn(i)
        shape = SHAPES[int(rng.random() * 1024)]
        self.emit(t, sid, vid, None, None, 0, "page_view", "/register")
        t = self._step(t, limit, 20, 120)
        self.emit(t, sid, vid, mid, phone, shape, "register", "/register")
        if opens_here:
            code, _w, page, _s, _a = WEB_CODES[8]
            self.business(t, limit, sid, vid, mid, phone, shape, code, page, 1.0, ("50.00",), None)
            t = self._step(t, limit, 30, 60)
        t = self._step(t, limit)
        self.emit(t, sid, vid, mid, phone, shape, "page_view", "/account/center")

    # --- the file -------------------------------------------------------------------------

    def specials(self) -> list[tuple[int, str, int]]:
        """Registrations and planted sessions of the day: (second, what, customer)."""
        job, people, rng = self.job, self.people, self.rng
        out: list[tuple[int, str, int]] = []
        for i in people.opened_on(job.day_index):
            if people.flags[i] & WEB_USER:
                what = "open" if people.open_channel(i) == "WEB" else "register"
                out.append((random_second(rng, self.hours), what, i))
        x = len(people.web_users) * REGISTER_RATE
        extra = int(x) + (rng.random() < x - int(x))
        for _ in range(extra):
            out.append(
                (
                    random_second(rng, self.hours),
                    "register",
                    people.pick(rng, people.web_users, job.day_index),
                )
            )
        specials = self.world.specials
        if job.plants.enabled and specials and specials.shared_visitor == job.day_index:
            a, b = two_active(people, people.web_users)
            out.append((random_second(rng, self.hours), "shared_a", a))
            out.append((random_second(rng, self.hours), "shared_b", b))
            self.shared = (a, b)
        out.sort()
        return out

    def run(self, out: IO[str]) -> None:
        self.out = out
        job, rng, people = self.job, self.rng, self.people
        specials = self.specials()
        shared_lines: list[int] = []
        k = 0
        n_sessions = max(1, round(job.target / AVERAGE_EVENTS))
        job.late_rate *= AVERAGE_EVENTS  # sessions, not events, arrive late
        for sec in sorted_seconds(rng, n_sessions, CURVE_ONLINE):
            while k < len(specials) and specials[k][0] <= sec:
                self._special(specials[k], shared_lines)
                k += 1
            late_days = job.late_offset(rng)
            late = None
            if late_days:
                late = (job.day - timedelta(days=late_days)).isoformat()
                sec = -86400 * late_days + random_second(rng, self.hours)
            limit = 86399 if not late_days else -86400 * late_days + 86399
            if rng.random() < ANONYMOUS_SHARE:
                self.anonymous(sec, limit, late)
            else:
                self.logged_in(sec, limit, late, people.pick(rng, people.web_users, job.day_index))
        for item in specials[k:]:
            self._special(item, shared_lines)
        self.flush()
        if shared_lines:
            a, b = self.shared
            job.plants.add(
                "shared_web_visitor",
                "links_nobody",
                source="web",
                file=job.name,
                visitor_id=people.visitor_id(a, 0),
                customers=[people.customer_id(a), people.customer_id(b)],
                lines=shared_lines,
            )

    def _special(self, item: tuple[int, str, int], shared_lines: list[int]) -> None:
        sec, what, i = item
        if what in ("open", "register"):
            self.register(sec, i, what == "open")
        else:
            a, _b = self.shared
            vid = self.people.visitor_id(a, 0)
            shared_lines.append(self.logged_in(sec, 86399, None, i, vid))


def two_active(people: Population, pool: array) -> tuple[int, int]:
    """Two active, existing customers of a pool with a low index (heavy users): planted cases."""
    found = [i for i in pool[:60] if people.status[i] == ACTIVE and i < people.base][:2]
    return (found[0], found[1]) if len(found) == 2 else (pool[0], pool[1])


def write_web_file(job: FileJob, world: World) -> int:
    """Write one web events file; returns the number of lines (events, retries included)."""
    writer = _WebWriter(job, world)
    with open_text(job.path) as out:
        writer.run(out)
    if job.path.name.endswith(".gz"):
        job.info["compressed"] = "gzip"
    return writer.line


def write_web_events(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid web events file of about ``rows`` events (benchmarks); returns the count."""
    world, job = clean_job("web", path, rows, seed, day)
    return write_web_file(job, world)
