"""Headless Chromium for browser tests: Debian's chromium and chromedriver, driven by Selenium.

Nothing is downloaded: the driver's path is given to Selenium (so Selenium
Manager is never run) and the browser is started with the background network
features off. A missing program fails the test with what to install.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("EMAILACTIONS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("EMAILACTIONS_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1440,1000",
)  # fmt: skip


def chromium() -> tuple[object, Path]:
    """A Chrome WebDriver over the system Chromium, and its fresh profile folder (remove it after ``quit``)."""
    for program, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(program).is_file() and os.access(program, os.X_OK)):
            pytest.fail(f"{program} is missing: install Debian's {package} (scripts/test-setup does), or set EMAILACTIONS_CHROM{'IUM' if package == 'chromium' else 'EDRIVER'}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="studio-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    return driver, profile


class Watcher:
    """An HTTP server on loopback that records every path requested: proof that a script ran."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Watcher":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
