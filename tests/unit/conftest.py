"""Generated months shared by the generator's test files (tests/unit/test_generate*.py): each is
written once per test session."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from channel_dw.generate import generate_landing
from tests.unit.generated_files import OCTOBER


@pytest.fixture(scope="session")
def october(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    """October 2026 for 2,000 customers: the one-month sample of the brief."""
    root = tmp_path_factory.mktemp("october")
    messages: list[str] = []
    generate_landing(root, *OCTOBER, customers=2000, seed=42, progress=messages.append)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return root, manifest, messages


@pytest.fixture(scope="session")
def root(october: tuple[Path, dict[str, Any], list[str]]) -> Path:
    return october[0]


@pytest.fixture(scope="session")
def manifest(october: tuple[Path, dict[str, Any], list[str]]) -> dict[str, Any]:
    return october[1]


@pytest.fixture(scope="session")
def busier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Two weeks for 20,000 customers: enough store orders and late calls to pass the caps."""
    root = tmp_path_factory.mktemp("busier")
    generate_landing(root, date(2026, 10, 1), date(2026, 10, 14), customers=20_000, seed=42)
    return root, json.loads((root / "manifest.json").read_text(encoding="utf-8"))
