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

from ccbridge.testing.services import unavailable

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


INSTALL_HINT = "install it with `apt-get install -y chromium` and `pip install playwright`"


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed", INSTALL_HINT)
    if not CHROMIUM.exists():
        unavailable(f"chromium is not installed at {CHROMIUM}", INSTALL_HINT)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()
