"""One reader module per source; this registry is how the core and the CLI find them."""

from __future__ import annotations

import importlib

from channel_dw.sources.base import SourceSpec

# Loading order in one process: the CRM first, so that a day's customers exist before their
# interactions. Nothing in raw depends on it (each source has its own tables; dbt reads them after
# the batch): `channel-dw ingest` on several processes keeps only each source's own order
# (channel_dw.ingest.lanes).
SOURCE_NAMES: tuple[str, ...] = ("crm", "web", "app", "hotline", "sms", "stores", "halls")


def get_source(name: str) -> SourceSpec:
    if name not in SOURCE_NAMES:
        raise KeyError(f"unknown source {name!r}; the sources are: {', '.join(SOURCE_NAMES)}")
    module = importlib.import_module(f"channel_dw.sources.{name}")
    return module.SPEC


def all_sources() -> list[SourceSpec]:
    return [get_source(name) for name in SOURCE_NAMES]
