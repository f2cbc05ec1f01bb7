"""What :func:`~channel_dw.generate.landing.generate_landing` wrote: files and records per
source, the planted cases and the redeliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from channel_dw.generate.plants import Planted


@dataclass
class SourceCount:
    files: int = 0
    records: int = 0


@dataclass
class GenerationSummary:
    """What :func:`generate_landing` wrote."""

    root: Path
    start: date
    end: date
    customers: int
    seed: int
    sources: dict[str, SourceCount] = field(default_factory=dict)
    awkward: list[Planted] = field(default_factory=list)
    awkward_counts: dict[str, int] = field(default_factory=dict)
    redeliveries: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return sum(c.files for c in self.sources.values())

    @property
    def records(self) -> int:
        return sum(c.records for c in self.sources.values())

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        """A few lines for people; the full list of planted cases is in the manifest."""
        per_source = ", ".join(f"{s} {c.records:,}" for s, c in self.sources.items())
        planted = ", ".join(f"{k} {n:,}" for k, n in self.awkward_counts.items())
        return (
            f"{self.start}..{self.end}, {self.customers:,} customers, seed {self.seed}:"
            f" {self.files:,} files, {self.records:,} records in {self.seconds:.1f}s"
            f" ({self.records_per_second:,.0f} records/s)\n"
            f"records: {per_source}\n"
            f"planted: {planted}\n"
            f"redeliveries: {len(self.redeliveries)}; manifest: {self.manifest}"
        )
