"""sms — the SMS service hall log: ``sms/sms_hall_YYYYMMDD.txt``, pipe separated, with a trailer.

``msg_id|msisdn|recv_time|command|reply_code|amount_fen|region`` then
``#TRAILER|<record_count>|<sum_of_amount_fen>``. The trailer counts every record line of the
file, planted bad rows included (they are records of the file; the loader quarantines them).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

from channel_dw.generate.clock import CURVE_SMS, hour_table, random_second, sorted_seconds
from channel_dw.generate.common import FileJob, World, clean_job, open_text
from channel_dw.generate.people import REGIONS, impossible_phone, shape_phone, weight_table
from channel_dw.generate.plants import (
    BAD_COMPACT_TIMES,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_UNKNOWN_CODE,
    bad_time,
)

log = logging.getLogger(__name__)

# command, weight, success rate, amounts in fen ("" = none)
SMS_COMMANDS: tuple[tuple[str, int, float, tuple[str, ...]], ...] = (
    ("CXHF", 28, 0.99, ("",)),
    ("CXYE", 14, 0.99, ("",)),
    ("JF", 10, 0.93, ("3000", "5000", "5000", "10000", "10000", "20000")),
    ("KTLL10", 6, 0.92, ("1000",)),
    ("KTLL30", 6, 0.92, ("3000",)),
    ("KTLL100", 3, 0.9, ("10000",)),
    ("KTLDXS", 4, 0.94, ("500",)),
    ("TD", 5, 0.97, ("",)),
    ("BLTC_5G58", 2, 0.88, ("",)),
    ("BLTC_5G88", 1, 0.88, ("",)),
    ("BLTC_5G128", 1, 0.86, ("",)),
    ("MYD", 10, 1.0, ("",)),  # satisfaction reply MYD<n>
)
_TABLE = weight_table([c[1] for c in SMS_COMMANDS])
_MYD = ("MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5", "MYD5",
        "MYD4", "MYD4", "MYD4", "MYD4", "MYD4", "MYD3", "MYD3", "MYD2", "MYD1")  # fmt: skip
_FAIL_CODES = ("1001", "2003", "3005", "9999")
_UNKNOWN = ("HELLO", "ZZCX", "QXTC8")
_SHAPES = weight_table((88, 4, 4, 4))
STRANGER_SHARE = 0.02


def trailer(count: int, amount_sum: int) -> str:
    return f"#TRAILER|{count}|{amount_sum}\n"


def write_sms_file(job: FileJob, world: World, trailer_error: int = 0) -> int:
    """Write one SMS log; returns the records. ``trailer_error`` ≠ 0 plants a wrong trailer."""
    rng, side, people, bad = job.rng, job.side_rng, world.people, job.bad
    text, ymd, hours = job.text, job.ymd, hour_table(CURVE_SMS)
    pool, day_index = people.sms_users, job.day_index
    plants_on = job.plants.enabled
    buf: list[str] = []
    total = 0
    seq = 0
    with open_text(job.path) as out:
        for sec in sorted_seconds(rng, job.target, CURVE_SMS):
            late_days = job.late_offset(rng)
            if late_days:
                sec = -86400 * late_days + random_second(rng, hours)
            if rng.random() < STRANGER_SHARE:
                phone = people.stranger_msisdn(rng)
                region = REGIONS[int(rng.random() * 11)]
            else:
                i = people.pick(rng, pool, day_index)
                phone, region = people.msisdn(i), REGIONS[people.region[i]]
            shape = _SHAPES[int(rng.random() * 1024)]
            msisdn = phone if shape == 0 else shape_phone(phone, shape)
            command, _w, success, amounts = SMS_COMMANDS[_TABLE[int(rng.random() * 1024)]]
            if command == "MYD":
                command = _MYD[int(rng.random() * 20)]
            reply = "0" if rng.random() < success else _FAIL_CODES[int(rng.random() * 4)]
            amount = amounts[int(rng.random() * len(amounts))]
            recv = text.compact(sec)
            msg_id = f"S{ymd}{seq + 1:08d}"
            line = seq + 1
            rule = ""
            if seq >= bad.next_at:
                rule = bad.kind
                if rule == RULE_BAD_TIMESTAMP:
                    column, recv = "recv_time", bad_time(side, BAD_COMPACT_TIMES, ymd)
                    value = recv
                elif rule == RULE_BAD_MSISDN:
                    column, msisdn = "msisdn", impossible_phone(phone)
                    value = msisdn
                elif rule == RULE_UNKNOWN_CODE:
                    column, command = "command", _UNKNOWN[int(side.random() * 3)]
                    value = command
                bad.advance()
                job.plants.bad_row("sms", job.name, line, rule, msg_id, column, value)
            elif plants_on:
                job.phone(shape, phone, line, "msisdn", msisdn)
            if late_days:
                job.late.append((line, (job.day - timedelta(days=late_days)).isoformat()))
            buf.append(f"{msg_id}|{msisdn}|{recv}|{command}|{reply}|{amount}|{region}\n")
            if amount:
                total += int(amount)
            seq += 1
            if len(buf) >= 4096:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        if trailer_error:
            job.info["trailer"] = {"records": seq, "amount_fen": total}
            out.write(trailer(seq + trailer_error, total))
        else:
            out.write(trailer(seq, total))
    return seq


def write_sms_hall(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid SMS log of about ``rows`` records (benchmarks); returns the count."""
    world, job = clean_job("sms", path, rows, seed, day)
    return write_sms_file(job, world)
