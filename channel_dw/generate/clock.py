"""Business time: daily curves in Asia/Shanghai, daily volumes, and fast time formatting.

Times inside a day are plain seconds since local midnight (0..86399, or beyond for a call that
runs past midnight); they are turned into text with precomputed tables, which is several times
faster than ``strftime`` and matters at tens of millions of records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache

from channel_dw.generate.people import derive_seed, weight_table

UTC_OFFSET_SECONDS = 8 * 3600
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# Relative traffic by local hour, 0..23.
CURVE_ONLINE = (6, 3.5, 2, 1.5, 1.5, 3, 9, 20, 36, 52, 60, 58, 46, 44, 54, 58, 56, 52, 48, 52,
                58, 54, 36, 18)  # fmt: skip
CURVE_HOTLINE = (3, 2, 1, 1, 1, 2, 6, 20, 48, 70, 74, 66, 48, 50, 64, 68, 64, 56, 44, 40, 38,
                 30, 16, 7)  # fmt: skip
CURVE_SMS = (8, 4, 2, 2, 2, 4, 12, 30, 46, 52, 54, 52, 46, 44, 48, 50, 50, 50, 52, 56, 60, 58,
             44, 24)  # fmt: skip
CURVE_HALL = (0, 0, 0, 0, 0, 0, 0, 0, 12, 60, 80, 72, 40, 48, 70, 78, 70, 52, 14, 0, 0, 0, 0,
              0)  # fmt: skip
CURVE_CRM = (1, 0, 0, 0, 0, 0, 1, 3, 10, 14, 14, 12, 8, 9, 13, 14, 13, 11, 8, 6, 5, 4, 3, 2)

HOUR_TABLES: dict[tuple[float, ...], bytes] = {}


def hour_table(curve: tuple[float, ...]) -> bytes:
    """1024-entry lookup table of hours weighted by the curve (see :func:`random_second`)."""
    table = HOUR_TABLES.get(curve)
    if table is None:
        table = weight_table([round(w * 100) for w in curve])
        HOUR_TABLES[curve] = table
    return table


def random_second(rng: random.Random, table: bytes) -> int:
    return table[int(rng.random() * 1024)] * 3600 + int(rng.random() * 3600)


def sorted_seconds(rng: random.Random, n: int, curve: tuple[float, ...]) -> Iterator[int]:
    """About ``n`` times of day following the curve, in increasing order, one hour in memory."""
    total = sum(curve)
    for hour, weight in enumerate(curve):
        if not weight:
            continue
        x = n * weight / total
        count = int(x) + (rng.random() < x - int(x))
        if count:
            base = hour * 3600
            rnd = rng.random
            yield from sorted([base + int(rnd() * 3600) for _ in range(count)])


# Volume factors: weekday (Mon..Sun) per source, and the National Day holiday (1-7 October).
_WEEKDAY = {
    "web": (1.05, 1.0, 1.0, 1.0, 0.95, 0.85, 0.85),
    "app": (1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1),
    "hotline": (1.15, 1.05, 1.0, 1.0, 1.0, 0.85, 0.8),
    "sms": (1.05, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95),
    "halls": (0.95, 0.9, 0.9, 0.9, 0.95, 1.25, 1.2),
    "stores": (0.9, 0.9, 0.9, 0.95, 1.0, 1.25, 1.2),
}
_HOLIDAY = {"web": 0.85, "app": 1.1, "hotline": 0.85, "sms": 0.9, "halls": 1.3, "stores": 1.5}


def day_factor(source: str, day: date) -> float:
    factor = _WEEKDAY.get(source, (1.0,) * 7)[day.weekday()]
    if day.month == 10 and day.day <= 7:
        factor *= _HOLIDAY.get(source, 1.0)
    return factor


def daily_volume(seed: int, source: str, day: date, expected: float) -> int:
    """Records of one source on one day: expected × weekday/holiday factor × ±8 % noise."""
    noise = random.Random(derive_seed(seed, "volume", source, day.isoformat())).uniform(0.92, 1.08)
    x = expected * day_factor(source, day) * noise
    return int(x) + (x - int(x) >= 0.5)


def epoch_seconds(day: date) -> int:
    """Epoch seconds (UTC) of local midnight of ``day``."""
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400 - UTC_OFFSET_SECONDS


@cache
def hms_table() -> tuple[str, ...]:
    """``HH:MM:SS`` for every second of a day."""
    return tuple(
        f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)
    )


@cache
def hms_compact_table() -> tuple[str, ...]:
    """``HHMMSS`` for every second of a day."""
    return tuple(f"{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60))


class DayText:
    """Local date-time text for seconds relative to midnight of ``day`` (may be < 0 or ≥ 86400)."""

    __slots__ = ("_compact", "_hms", "_hmsc", "_iso", "day")

    def __init__(self, day: date) -> None:
        self.day = day
        days = [day + timedelta(days=k) for k in range(-3, 3)]
        self._iso = [d.isoformat() for d in days]
        self._compact = [d.strftime("%Y%m%d") for d in days]
        self._hms = hms_table()
        self._hmsc = hms_compact_table()

    def iso(self, second: int) -> str:
        """``YYYY-MM-DD HH:MM:SS``."""
        return f"{self._iso[3 + second // 86400]} {self._hms[second % 86400]}"

    def compact(self, second: int) -> str:
        """``YYYYMMDDHHMMSS``."""
        return f"{self._compact[3 + second // 86400]}{self._hmsc[second % 86400]}"

    def iso_t(self, second: int, ms: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmm+08:00``."""
        return f"{self._iso[3 + second // 86400]}T{self._hms[second % 86400]}.{ms:03d}+08:00"
