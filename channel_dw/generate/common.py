"""What the per-source writers share: the job of writing one file, and the generated world.

The world holds the population and the little state that crosses sources and days: store orders
waiting for a status change, and O2O pickups waiting for their hall. It is tiny next to the data.
"""

from __future__ import annotations

import gzip
import io
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from channel_dw.generate.clock import DayText
from channel_dw.generate.people import PHONE_SHAPES, Population, derive_seed
from channel_dw.generate.plants import BadRows, Plants

WRITE_BUFFER = 1 << 20
LATE_RATE = 0.004  # share of records that arrive 1-2 days late


@dataclass
class FileJob:
    """Everything a writer needs to write one file."""

    source: str
    day: date
    day_index: int
    path: Path
    name: str  # relative to the landing root, e.g. "web/web_events_20261001.jsonl"
    rng: random.Random  # the record stream; same seed → same records
    side_rng: random.Random  # corruption and retries, kept apart so the stream does not move
    target: int  # records to aim for
    plants: Plants
    bad: BadRows = field(default_factory=BadRows)
    late_days: int = 0  # how far back late records may go (0 = none)
    late_rate: float = LATE_RATE
    late_forced: bool = False  # the first record that may be late is late (one per source)
    late: list[tuple[int, str]] = field(default_factory=list)  # (line, business date)
    dups: list[tuple[int, int]] = field(default_factory=list)  # (first line, repeated line)
    info: dict[str, Any] = field(default_factory=dict)  # extras for the manifest's file list
    text: DayText = field(init=False)
    ymd: str = field(init=False)
    _shapes_done: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.text = DayText(self.day)
        self.ymd = self.day.strftime("%Y%m%d")
        if not self.plants.enabled:
            self._shapes_done = {0, 1, 2, 3}

    def late_offset(self, rng: random.Random) -> int:
        """0, or how many days late (1 or 2) the next record is."""
        if self.late_forced and self.late_days:
            self.late_forced = False
            return 1
        if self.late_days and rng.random() < self.late_rate:
            return 1 if self.late_days == 1 or rng.random() < 0.7 else 2
        return 0

    def phone(self, shape: int, msisdn: str, line: int, column: str, value: str) -> None:
        """Record the first use of each phone shape by this source."""
        if shape in self._shapes_done:
            return
        self._shapes_done.add(shape)
        if self.plants.wants_shape(self.source, shape):
            self.plants.phone_shape(
                self.source, shape, PHONE_SHAPES[shape], self.name, line, column, value
            )


@dataclass(slots=True)
class StoreOrder:
    platform: str
    order_no: str
    customer: int  # -1 for a buyer who is not a customer
    account: str
    phone: str
    created: int  # seconds relative to midnight of created_day
    created_day: date
    paid: int | None
    item: str
    sku: str
    quantity: int
    amount_fen: int
    member_id: str
    pickup_hall: str
    status: str  # paid, completed, closed, refunded
    first_file: str = ""
    first_line: int = 0
    last_status: str = ""
    listed: bool = False  # a status change is in the manifest: so are its later ones


@dataclass(slots=True)
class Pickup:
    order_no: str
    platform: str
    hall: str
    customer: int
    phone: str
    second: int  # local time of the pickup on its day


@dataclass
class Specials:
    """Day indices of the once-per-landing cases."""

    late_backfill: int
    identical: int
    corrected: int
    truncated_app: int
    bad_sms_trailer: int
    shared_visitor: int
    shared_account: int
    region_move: int
    msisdn_change: int


@dataclass
class World:
    people: Population
    seed: int
    start: date
    days: int
    plants: Plants
    specials: Specials | None = None
    store_updates: dict[date, list[tuple[int, StoreOrder, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    pickups: dict[date, list[Pickup]] = field(default_factory=lambda: defaultdict(list))
    order_counter: int = 0
    prefixes_shown: int = 0
    # app uids first seen without their number, until they are seen with it (then listed)
    unbound_uids: dict[str, dict[str, Any]] = field(default_factory=dict)

    def day_index(self, day: date) -> int:
        return (day - self.start).days


def rng_for(seed: int, *parts: object) -> random.Random:
    return random.Random(derive_seed(seed, *parts))


def open_text(path: Path, encoding: str = "utf-8") -> IO[str]:
    """A buffered text file for writing; ``.gz`` names are gzip without a time stamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        gz = gzip.GzipFile(filename=str(path), mode="wb", mtime=0, compresslevel=6)
        return io.TextIOWrapper(io.BufferedWriter(gz, WRITE_BUFFER), encoding=encoding, newline="")
    return open(path, "w", encoding=encoding, newline="", buffering=WRITE_BUFFER)


def clean_job(source: str, path: Path, rows: int, seed: int, day: date) -> tuple[World, FileJob]:
    """A world and a job for one big clean file (benchmarks): no bad rows, no late records."""
    customers = max(1000, min(1_000_000, rows // 6))
    plants = Plants(enabled=False)
    world = World(Population(customers, seed, day, 1), seed, day, 1, plants)
    job = FileJob(
        source=source,
        day=day,
        day_index=0,
        path=path,
        name=path.name,
        rng=rng_for(seed, source, day.isoformat()),
        side_rng=rng_for(seed, source, day.isoformat(), "side"),
        target=rows,
        plants=plants,
    )
    return world, job
