"""Generate a whole landing root: every source, every day, the redeliveries and the manifest.

Day by day, in a fixed order (crm first, so the other sources see the day's changes; stores
before halls, so pickups find their orders), each file written streaming with its own seeded
random stream. ``manifest.json`` lists the files with their record counts and every awkward case
planted, with where it is and what the loader is expected to do with it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from channel_dw.generate import app, crm, halls, hotline, sms, stores, web
from channel_dw.generate.clock import daily_volume
from channel_dw.generate.common import FileJob, Specials, World, rng_for
from channel_dw.generate.people import Population, derive_seed, mix64
from channel_dw.generate.plants import (
    BAD_ROW_RATE,
    ROW_RULES,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_BAD_TRAILER,
    RULE_COUNT_MISMATCH,
    BadRows,
    Plants,
)
from channel_dw.generate.sizing import RATES, SOURCES
from channel_dw.generate.summary import GenerationSummary, SourceCount

log = logging.getLogger(__name__)

RULES: dict[str, tuple[str, ...]] = {
    "web": ROW_RULES,
    "app": ROW_RULES,
    "hotline": ROW_RULES,
    "sms": ROW_RULES,
    "halls": ROW_RULES,
    "stores": ROW_RULES,
    "crm": (RULE_BAD_TIMESTAMP, RULE_BAD_MSISDN),
}
LATE_SOURCES = frozenset({"web", "app", "hotline", "sms", "halls"})
GZIP_WEEKDAY_INDEX = 5  # web files of day index 5, 12, 19 ... are gzipped
REDELIVERIES = "_redeliveries"
IDENTICAL, CORRECTED, LATE = "01_identical", "02_corrected", "03_late"
LISTED_LATE_LINES = 20
MANIFEST_VERSION = 1


def file_name(source: str, day: date, platform: str = "", gz: bool = False) -> str:
    """The contract's file name of a source and day, relative to the landing root."""
    ymd = day.strftime("%Y%m%d")
    if source == "web":
        return f"web/web_events_{ymd}.jsonl{'.gz' if gz else ''}"
    return {
        "crm": f"crm/crm_customers_{ymd}.csv",
        "app": f"app/app_events_{ymd}.json",
        "hotline": f"hotline/hotline_cdr_{ymd}.csv",
        "sms": f"sms/sms_hall_{ymd}.txt",
        "stores": f"stores/{platform}_orders_{ymd}.xlsx",
        "halls": f"halls/hall_txn_{ymd}.csv",
    }[source]


def choose_specials(days: int) -> Specials:
    last = days - 1
    return Specials(
        late_backfill=min(1, last),
        identical=min(2, last),
        corrected=min(4, last),
        truncated_app=min(8, last),
        bad_sms_trailer=min(11, last),
        shared_visitor=min(3, last),
        shared_account=min(5, last),
        region_move=days // 2,
        msisdn_change=days // 3,
    )


class _Generator:
    def __init__(
        self,
        root: Path,
        start: date,
        days: int,
        customers: int,
        seed: int,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.root = root
        self.start = start
        self.days = days
        self.seed = seed
        self.progress = progress
        self.plants = Plants()
        self.quiet = Plants(enabled=False)  # files outside the landing (redeliveries)
        people = Population(customers, seed, start, days)
        self.world = World(people, seed, start, days, self.plants, choose_specials(days))
        self.specials = self.world.specials
        assert self.specials is not None
        self.summary = GenerationSummary(
            root, start, start + timedelta(days=days - 1), customers, seed
        )
        self.summary.sources = {s: SourceCount() for s in SOURCES}
        self.files: list[dict[str, Any]] = []
        self.forced = self._forced_bad_rows()
        self.forced_late = self._forced_late()
        self.bom_days = self._bom_days()

    # --- planning -----------------------------------------------------------------------------

    def _eligible(self, source: str) -> list[int]:
        sp = self.specials
        assert sp is not None
        excluded = {
            "app": {sp.truncated_app},
            "sms": {sp.bad_sms_trailer},
            "halls": {sp.late_backfill},
            "crm": {0} if self.days > 1 else set(),
        }.get(source, set())
        return [d for d in range(self.days) if d not in excluded]

    def _forced_bad_rows(self) -> dict[tuple[str, int], list[str]]:
        """One bad row of each rule for each source, on a day picked from the seed."""
        forced: dict[tuple[str, int], list[str]] = {}
        for source, rules in RULES.items():
            days = self._eligible(source)
            if not days:
                continue
            for rule in rules:
                d = days[derive_seed(self.seed, "forced", source, rule) % len(days)]
                forced.setdefault((source, d), []).append(rule)
        assert self.specials is not None
        forced.setdefault(("hotline", self.specials.corrected), []).append(RULE_BAD_TIMESTAMP)
        return forced

    def _forced_late(self) -> dict[str, int]:
        """One sure late record per source, on a day that can look back two days."""
        forced = {}
        for source in LATE_SOURCES:
            days = [d for d in self._eligible(source) if d >= 2] or self._eligible(source)
            if days and self.days > 1:
                forced[source] = days[derive_seed(self.seed, "late", source) % len(days)]
        return forced

    def _bom_days(self) -> set[int]:
        """Hotline days delivered as UTF-8 with BOM: some days from 2026-10-15 on, not all."""
        eligible = [d for d in range(self.days) if self.start + timedelta(d) >= hotline.BOM_FROM]
        bom = {d for d in eligible if mix64(derive_seed(self.seed, "bom", d)) % 5 < 2}
        if eligible:
            bom.add(eligible[0])
            if len(eligible) > 1:
                bom.discard(eligible[1])
        return bom

    def job(
        self,
        source: str,
        d: int,
        name: str,
        target: int,
        *,
        stream: str = "",
        landing: bool = True,
        root: Path | None = None,
        rejected: bool = False,
    ) -> FileJob:
        """A job for one file; ``stream`` separates the random streams of store platforms.

        Files outside the landing (redeliveries) and files planted to be rejected whole record
        no cases of their own and get no bad rows: their only case is the file itself.
        """
        day = self.start + timedelta(days=d)
        key = (source, day.isoformat(), stream)
        landing = landing and not rejected
        plants = self.plants if landing else self.quiet
        forced = self.forced.get((source, d), []) if landing else []
        if source == "stores" and forced:
            chosen = stores.PLATFORMS[derive_seed(self.seed, "forced-platform") % 3]
            forced = forced if stream == chosen else []
        side = rng_for(self.seed, *key, "side")
        bad = BadRows()
        if landing:
            bad = BadRows.schedule(side, target, RULES[source], forced, BAD_ROW_RATE)
        return FileJob(
            source=source,
            day=day,
            day_index=d,
            path=(root or self.root) / name,
            name=name,
            rng=rng_for(self.seed, *key),
            side_rng=side,
            target=target,
            plants=plants,
            bad=bad,
            late_days=min(2, d) if source in LATE_SOURCES else 0,
            late_forced=d == self.forced_late.get(source),
        )

    def volume(self, source: str, day: date, share: float = 1.0) -> int:
        expected = self.world.people.size * RATES[source] * share
        return daily_volume(self.seed, source, day, expected)

    # --- bookkeeping --------------------------------------------------------------------------

    def done(self, job: FileJob, records: int, listed: bool = True) -> None:
        if job.late:
            job.plants.add(
                "late_records",
                "loaded",
                source=job.source,
                file=job.name,
                count=len(job.late),
                lines=[ln for ln, _ in job.late[:LISTED_LATE_LINES]],
                dates=sorted({d for _, d in job.late}),
            )
        if job.dups:
            job.plants.add(
                "duplicate_web_event",
                "deduplicated",
                source="web",
                file=job.name,
                count=len(job.dups),
                lines=[list(p) for p in job.dups[:LISTED_LATE_LINES]],
            )
        if listed:
            entry = {
                "file": job.name,
                "source": job.source,
                "date": job.day.isoformat(),
                "records": records,
                "expect": "loaded",
                **job.info,
            }
            self.files.append(entry)
            count = self.summary.sources[job.source]
            count.files += 1
            count.records += records

    # --- one day ------------------------------------------------------------------------------

    def day(self, d: int) -> tuple[int, int]:
        day = self.start + timedelta(days=d)
        sp = self.specials
        assert sp is not None
        before = (self.summary.files, self.summary.records)
        world = self.world

        if d == 0:
            job = self.job("crm", d, file_name("crm", day), 0)
            self.done(job, crm.write_crm_snapshot(job, world))
        else:
            job = self.job("crm", d, file_name("crm", day), self.volume("crm", day))
            self.done(job, crm.write_crm_delta(job, world))

        for platform in stores.PLATFORMS:
            name = file_name("stores", day, platform)
            share = stores.PLATFORM_SHARE[platform]
            job = self.job("stores", d, name, self.volume("stores", day, share), stream=platform)
            self.done(job, stores.write_store_file(job, world, platform))
        stores.forget_day(world, day)

        name = file_name("halls", day)
        if d == sp.late_backfill:
            late_root = self.root / REDELIVERIES / LATE
            job = self.job(
                "halls", d, name, self.volume("halls", day), landing=False, root=late_root
            )
            count = halls.write_halls_file(job, world)
            self.done(job, count, listed=False)
            self.redelivery(
                3,
                LATE,
                "late_backfill",
                name,
                "loaded",
                records=count,
                business_date=day.isoformat(),
                missing_from_landing=True,
            )
        else:
            job = self.job("halls", d, name, self.volume("halls", day))
            self.done(job, halls.write_halls_file(job, world))

        name = file_name("hotline", day)
        target = self.volume("hotline", day)
        encoding = hotline.hotline_encoding(day, d in self.bom_days)
        job = self.job("hotline", d, name, target)
        count = hotline.write_hotline_file(job, world, encoding)
        self.done(job, count)
        if encoding != "gbk":
            self.plants.add(
                "hotline_utf8_bom", "loaded", source="hotline", file=name, encoding=encoding
            )
        if d == sp.corrected:
            self.corrected(d, name, target, encoding, count)

        wrong = 3 if d == sp.bad_sms_trailer else 0
        job = self.job("sms", d, file_name("sms", day), self.volume("sms", day), rejected=wrong > 0)
        count = sms.write_sms_file(job, world, trailer_error=wrong)
        if wrong:
            job.info["expect"] = "rejected"
        self.done(job, count)
        if wrong:
            self.plants.add(
                "bad_sms_trailer",
                "rejected",
                source="sms",
                file=job.name,
                rule=RULE_BAD_TRAILER,
                trailer_count=count + wrong,
                records=count,
                amount_fen=job.info["trailer"]["amount_fen"],
            )

        gz = d % 7 == GZIP_WEEKDAY_INDEX
        job = self.job("web", d, file_name("web", day, gz=gz), self.volume("web", day))
        self.done(job, web.write_web_file(job, world))
        if gz:
            self.plants.add("gzip_web_file", "loaded", source="web", file=job.name)

        truncated = d == sp.truncated_app
        job = self.job("app", d, file_name("app", day), self.volume("app", day), rejected=truncated)
        short = 3 + int(job.side_rng.random() * 20) if truncated else 0
        count = app.write_app_file(job, world, truncate_by=short)
        if short:
            job.info["expect"] = "rejected"
        self.done(job, count)
        if short:
            self.plants.add(
                "truncated_app_file",
                "rejected",
                source="app",
                file=job.name,
                rule=RULE_COUNT_MISMATCH,
                declared_count=count + short,
                events=count,
            )

        files = self.summary.files - before[0]
        records = self.summary.records - before[1]
        return files, records

    # --- redeliveries -------------------------------------------------------------------------

    def redelivery(
        self, order: int, folder: str, kind: str, name: str, expect: str, **detail: Any
    ) -> None:
        where = f"{REDELIVERIES}/{folder}"
        entry = {
            "order": order,
            "folder": where,
            "kind": kind,
            "file": name,
            "expect": expect,
            **detail,
        }
        self.summary.redeliveries.append(entry)
        self.plants.add(kind, expect, source=name.split("/")[0], file=name, folder=where, **detail)

    def corrected(self, d: int, name: str, target: int, encoding: str, before: int) -> None:
        """The same hotline file again, with rows fixed, added and removed."""
        fixed_lines = [
            p.line
            for p in self.plants.items
            if p.kind == "bad_row" and p.file == name and p.line is not None
        ]
        bad_positions = {line - 2 for line in fixed_lines}
        pick = rng_for(self.seed, "corrected", d)
        candidates = [k for k in range(before) if k not in bad_positions]
        chosen = pick.sample(candidates, min(len(candidates), 5))
        drop = chosen[:2]
        # a dropped call moves every later line up: keep the drops after the listed lines
        last = max(self.listed_lines(name), default=0) - 2
        if drop and min(drop) <= last:
            later = [k for k in candidates if k > last and k not in chosen]
            drop = pick.sample(later, min(len(later), 2))
        fix = hotline.Correction(drop=set(drop), amend=set(chosen[2:]), extra=3)
        job = self.job(
            "hotline", d, name, target, landing=False, root=self.root / REDELIVERIES / CORRECTED
        )
        after = hotline.write_hotline_file(job, self.world, encoding, fix)
        self.redelivery(
            2,
            CORRECTED,
            "corrected_redelivery",
            name,
            "replaces",
            records_before=before,
            records_after=after,
            dropped=fix.dropped,
            amended=fix.amended,
            added=fix.added,
            fixed_bad_row_lines=sorted(fixed_lines),
        )

    def listed_lines(self, name: str) -> list[int]:
        """Lines of a file that the manifest names, other than bad rows (lines of text files)."""
        lines: list[int] = []
        for p in self.plants.items:
            if p.file != name or p.kind == "bad_row":
                continue
            if p.line is not None:
                lines.append(p.line)
            if p.kind == "late_records":
                lines.extend(p.detail["lines"])
        return lines

    def identical(self) -> None:
        assert self.specials is not None
        d = self.specials.identical
        entry = next(
            f
            for f in self.files
            if f["source"] == "web" and f["date"] == (self.start + timedelta(d)).isoformat()
        )
        name = entry["file"]
        target = self.root / REDELIVERIES / IDENTICAL / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / name, target)
        self.redelivery(
            1, IDENTICAL, "identical_redelivery", name, "skipped", records=entry["records"]
        )

    # --- the whole run ------------------------------------------------------------------------

    def run(self) -> GenerationSummary:
        began = time.perf_counter()
        redeliveries = self.root / REDELIVERIES
        if redeliveries.exists():
            shutil.rmtree(redeliveries)
        self.root.mkdir(parents=True, exist_ok=True)
        for d in range(self.days):
            files, records = self.day(d)
            day = self.start + timedelta(days=d)
            message = f"{day.isoformat()}: {files} files, {records:,} records"
            log.info(message)
            if self.progress is not None:
                self.progress(message)
        self.identical()
        self.summary.redeliveries.sort(key=lambda r: r["order"])
        self.summary.awkward = self.plants.items
        self.summary.awkward_counts = dict(sorted(self.plants.counts.items()))
        self.summary.seconds = time.perf_counter() - began
        self.write_manifest()
        return self.summary

    def write_manifest(self) -> None:
        s = self.summary
        manifest = {
            "version": MANIFEST_VERSION,
            "generator": "channel_dw.generate",
            "params": {
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "customers": s.customers,
                "seed": s.seed,
            },
            "line_numbers": {
                "text files": "physical line, 1-based; a CSV header is line 1",
                "app": "1-based position of the event in the document's events array",
                "stores": "sheet row, 1-based; the header is row 1",
            },
            "totals": {
                src: {"files": c.files, "records": c.records} for src, c in s.sources.items()
            },
            "files": self.files,
            "redeliveries": s.redeliveries,
            "awkward_counts": s.awkward_counts,
            "awkward": [p.to_json() for p in s.awkward],
        }
        text = json.dumps(manifest, ensure_ascii=False, indent=1)
        (self.root / "manifest.json").write_text(text + "\n", encoding="utf-8")


def generate_landing(
    root: Path,
    start: date,
    end: date,
    customers: int = 2000,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Write every source's daily files from ``start`` to ``end`` (inclusive) under ``root``.

    Same arguments, same files. ``<root>/_redeliveries/NN_kind/`` holds the files to copy over
    the landing root afterwards, in order; ``<root>/manifest.json`` lists files and planted cases.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    days = (end - start).days + 1
    generator = _Generator(Path(root), start, days, customers, seed, progress)
    summary = generator.run()
    log.info(
        "generated %d files, %d records in %.1f s under %s",
        summary.files,
        summary.records,
        summary.seconds,
        root,
    )
    return summary
