"""One reader module per source; this registry is how the core and the CLI find them."""

from __future__ import annotations

import importlib

from channel_dw.sources.base import SourceSpec

# Loading order: the CRM first, so that a day's customers exist before their interactions.
SOURCE_NAMES: tuple[str, ...] = ("crm", "web", "app", "hotline", "sms", "stores", "halls")


def get_source(name: str) -> SourceSpec:
    if name not in SOURCE_NAMES:
        raise KeyError(f"unknown source {name!r}; the sources are: {', '.join(SOURCE_NAMES)}")
    module = importlib.import_module(f"channel_dw.sources.{name}")
    return module.SPEC


def all_sources() -> list[SourceSpec]:
    return [get_source(name) for name in SOURCE_NAMES]
