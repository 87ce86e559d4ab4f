"""The ledger page's results per step and variant, in headless Chromium: the page's own app
(auth checks replaced) served by uvicorn on loopback, over a ledger with known counts. The
real API server's auth around the same app is tested in ``test_ledger_page.py``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import variant_ledger
from helpers.airflow_server import CHROMIUM, CHROMIUM_ARGS, free_port, missing

from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.locate import LedgerLocation
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.plugins import api

pytestmark = pytest.mark.browser


@pytest.fixture
def page_url(tmp_path) -> Iterator[str]:
    import uvicorn

    path = tmp_path / "ab.sqlite"
    ledger = SendLedger.sqlite(path)
    variant_ledger.fill(ledger)
    ledger.close()
    where = LedgerLocation(f"sqlite:///{path}", "argument")
    app = api.create_app(
        ledger_location=lambda: where, security={api.reader: lambda: "ann", api.settler: lambda: "ann"}
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        locate.close_all()


def test_picking_a_campaign_shows_its_results_per_step_and_variant(page_url):
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.goto(page_url)
        page.wait_for_selector("body[data-loaded='true']")
        assert page.locator("#variants-section").is_hidden()  # "all" campaigns: no results table

        page.select_option("#campaign", "sequence:q4")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_selector("#variants tbody tr[data-variant='a']")
        rows = page.locator("#variants tbody tr").all_inner_texts()
        assert [row.split("\t") for row in rows] == [
            ["1", "a", "10", "3", "30.0%", "10.8% - 60.3%"],
            ["1", "b", "8", "1", "12.5%", "2.2% - 47.1%"],
            ["2", "(one message)", "5", "2", "40.0%", "11.8% - 76.9%"],
        ]

        page.select_option("#campaign", "batch:spring")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_selector("#variants-campaign:has-text('batch:spring')")
        page.wait_for_selector("#variants tbody tr[data-variant='b']")
        rows = page.locator("#variants tbody tr").all_inner_texts()
        assert [row.split("\t") for row in rows] == [
            ["-", "a", "4", "not tracked", "-", "-"],
            ["-", "b", "2", "not tracked", "-", "-"],
        ]
        browser.close()
