"""Fixtures for the web pages: the app with the pages mounted, a live server, and a real headless Chromium.

The browser is Debian's chromium driven by Playwright's Python API; Playwright's
own browser download is never used. Browser tests are skipped, saying why,
only when /usr/bin/chromium is absent (CI installs it, and sets CAREROUTE_REQUIRE_CHROMIUM
so that a missing browser fails there instead). Screenshots of each
page go to $CAREROUTE_SCREENSHOTS (default var/screenshots/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from careroute.api import create_app
from careroute.dispatcher import Dispatcher
from tests.conftest import DEMO, ROOT, LiveServer, make_item

CHROMIUM = Path(os.environ.get("CAREROUTE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(os.environ.get("CAREROUTE_SCREENSHOTS", ROOT / "var" / "screenshots"))


@pytest.fixture
def web_app(dispatcher: Dispatcher) -> FastAPI:
    """careroute's app; `create_app` mounts the pages."""
    return create_app(dispatcher, security=DEMO)


@pytest.fixture
def web_server(web_app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(web_app) as server:
        yield server


@pytest.fixture
def http(web_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.url, timeout=10) as client:
        yield client


def post_item(http: httpx.Client, external_id: str, **kw: Any) -> int:
    """Take an item in through the JSON API, as an intake adapter would; the new task's id."""
    r = http.post("/v1/items", json=make_item(external_id, **kw).to_dict())
    assert r.status_code == 201, r.text
    return int(r.json()["task_id"])


HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CAREROUTE_REQUIRE_CHROMIUM"):
            pytest.fail(f"{CHROMIUM} is required (CAREROUTE_REQUIRE_CHROMIUM) but absent: the browser tests cannot run")
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, web_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context and page per test: no cookie or storage carries over.

    It takes the server so that it closes first: a page left open keeps its live
    stream, and the server would wait for it when stopping.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(8_000)
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
