"""Headless Chromium for the browser tests (the Airflow UI, the HTML report, Superset).

The tests drive Debian's Chromium (``/usr/bin/chromium``, installed by
``scripts/ensure-chromium.sh``) with Playwright; Playwright's own browser downloads are not used.
When Chromium is missing the tests fail and say how to install it, unless
``DW_SKIP_BROWSER_TESTS=1`` asks to skip them on purpose.

    from tests.browser import browser_page, screenshot_dir

    with browser_page() as page:
        page.goto(url)
        page.screenshot(path=screenshot_dir() / "page.png")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
REPO_ROOT = Path(__file__).resolve().parent.parent
EXPECT_TIMEOUT_MS = 30_000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def chromium_launch_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``; skips or fails the test (see the
    module's docstring) when Chromium is not installed."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        message = (
            f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (it installs Debian's chromium)"
        )
        if os.environ.get("DW_SKIP_BROWSER_TESTS") == "1":
            pytest.skip(f"{message}; skipped because DW_SKIP_BROWSER_TESTS=1")
        pytest.fail(f"{message}, or set DW_SKIP_BROWSER_TESTS=1 to skip the browser tests")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": list(CHROMIUM_ARGS)}


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1000, **context_options: Any) -> Iterator:
    """A Playwright ``Page`` in a fresh headless Chromium (closed on exit).

    The page must reach this machine only: a request to another host that the page's own
    content-security policy did not stop fails the test, naming it, when its block ends. The
    requests are watched, not intercepted: routing them through Playwright changes how Chromium
    loads a page. Every request, redirects and form posts included, then waits on this process,
    and since Chromium 145 an intercepted request may carry the cookies of the moment it was
    intercepted rather than the browser's (microsoft/playwright#41428): a session cookie that
    the answer just before set can be missing, as Superset's login was in a CI run."""
    launch_kwargs = chromium_launch_kwargs()
    from playwright.sync_api import expect, sync_playwright

    # Playwright's assertions wait 5 s by default: on two busy cores a page of the Airflow UI or
    # Superset has taken longer to draw (a wrong page still fails, after 30 s)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)

    outside: dict[object, str] = {}

    def watch(request) -> None:
        if leaves_this_machine(request.url):
            outside[request] = request.url

    def stopped_by_policy(request) -> None:
        # the browser refused it itself (the page's content-security policy): it never left
        if "csp" in (request.failure or "").lower():
            outside.pop(request, None)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_kwargs)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, **context_options
            )
            context.on("request", watch)
            context.on("requestfailed", stopped_by_policy)
            try:
                yield context.new_page()
            except Exception as error:
                if outside:
                    error.add_note(f"the page also asked for {_listed(list(outside.values()))}")
                raise
            if outside:
                pytest.fail(
                    f"the page asked for {_listed(list(outside.values()))}: a page of the project "
                    "loads nothing from outside this machine (an operator's network cannot reach "
                    "it, and the page's load then waits on it)"
                )
        finally:
            browser.close()


def leaves_this_machine(url: str) -> bool:
    """Whether a request of the browser goes to another host than this machine's loopback."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK


def _listed(urls: list[str]) -> str:
    shown = sorted(set(urls))
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"{len(urls)} URL(s) outside this machine: " + ", ".join(shown[:5]) + more


def screenshot_dir() -> Path:
    """Where the browser tests save screenshots: ``$DW_SCREENSHOTS``, else ``build/screenshots/``
    in the repository (created when missing)."""
    folder = Path(os.environ.get("DW_SCREENSHOTS") or REPO_ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
