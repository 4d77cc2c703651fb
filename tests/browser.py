"""Debian's chromium, driven headless through chromium-driver by Selenium, for tests of
the page at ``/``; the test skips, saying why, where chromium cannot run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

FLAGS = (
    "--headless",
    # CI runs as root, where chromium's sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # Nothing but loopback: no update checks, no sync, no QUIC probes.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1150",
)
PAGE_LOAD_TIMEOUT_S = 30


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium with a fresh profile, closed afterwards; skips the test
    where selenium, chromium or chromium-driver is missing or will not start."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install them)")
    # Selenium's own manager would try to download a driver: never, here.
    os.environ.setdefault("SE_OFFLINE", "true")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        try:
            driver = webdriver.Chrome(
                options=options, service=webdriver.ChromeService(executable_path=driver_path)
            )
        except Exception as exc:  # noqa: BLE001 - any reason it cannot start is a skip
            pytest.skip(f"chromium cannot run here: {type(exc).__name__}: {exc}".split("\n")[0])
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        try:
            yield driver
        finally:
            driver.quit()
