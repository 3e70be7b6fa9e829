"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser).

Skipped with a reason when playwright or /usr/bin/chromium is missing, unless
``CCBRIDGE_REQUIRE_SERVICES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CCBRIDGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CCBRIDGE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CCBRIDGE_REQUIRE_SERVICES=1 makes browser tests mandatory")
    pytest.skip(
        f"{reason}; install it with `apt-get install -y chromium` and `pip install playwright`"
    )


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
        raise
    if not CHROMIUM.exists():
        _unavailable(f"chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()
