"""End to end: the ledger page in a real Airflow API server, in headless Chromium.

The ledger is filled by real sends (the operator against the emulator, one of them ending
``unknown``), kept in a SQLite ledger named by a connection that both the sends and the API
server use (``[connectsafely] ledger_conn_id``). A viewer reads the page, cannot settle; an
admin settles the unknown row through the dialog. The screenshot before settling goes to
``test-artifacts/``; with ``CONNECTSAFELY_UPDATE_DOCS_SCREENSHOT=1`` it also replaces
``docs/images/ledger-page.png``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.airflow_server import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, AirflowHome, ApiServer, missing
from helpers.connections import API_KEY, connection_json
from helpers.paths import REPO

from airflow_provider_connectsafely.compat import AirflowFailException
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

pytestmark = pytest.mark.browser

SCREENSHOT = REPO / "docs" / "images" / "ledger-page.png"
PASSWORDS = {"admin": "admin-pw-7d3a", "viewer": "viewer-pw-c81f"}
DAG_ID = "linkedin_outreach"
RUN_ID = "scheduled__2026-12-01T09:00:00+00:00"


@pytest.fixture(scope="module")
def home(tmp_path_factory, emulator_server) -> AirflowHome:
    home = AirflowHome(tmp_path_factory.mktemp("ledger-page-home"))
    passwords = home.path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    ledger_conn = json.dumps({"conn_type": "sqlite", "host": str(home.path / "shared-ledger.sqlite")})
    home.env.update(
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID="cs_ledger",
        AIRFLOW_CONN_CS_LEDGER=ledger_conn,
        AIRFLOW_CONN_CONNECTSAFELY_DEFAULT=connection_json(emulator_server.url, daily_limit=20),
    )
    home.airflow("db", "migrate")
    return home


@pytest.fixture(scope="module")
def server(home: AirflowHome):
    api = ApiServer(home)  # starts now; the sends below run while it boots
    try:
        yield api
    finally:
        api.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(api.log_path, ARTIFACTS / "ledger-page-api-server.log")


def _context(task_id: str, map_index: int = -1) -> dict:
    ti = SimpleNamespace(dag_id=DAG_ID, task_id=task_id, run_id=RUN_ID, map_index=map_index, try_number=1)
    ti.xcom_push = lambda key, value: None
    return {"ti": ti, "run_id": RUN_ID}


@pytest.fixture(scope="module")
def ledger(home, server, emulator_server):
    """Real sends through the operator and the emulator, into the ledger the server reads."""
    emulator_server.reset()
    env = {
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": home.env["AIRFLOW_CONN_CONNECTSAFELY_DEFAULT"],
        "AIRFLOW_CONN_CS_LEDGER": home.env["AIRFLOW_CONN_CS_LEDGER"],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for i, person in enumerate(["ada-lovelace", "alan-turing", "grace-hopper", "linus-t"]):
            SendLinkedInMessageOperator(
                task_id="send_welcome",
                recipient_profile_id=person,
                message="Hello!",
                dedupe_key=f"campaign:spring-launch:{person}",
                ledger_conn_id="cs_ledger",
            ).execute(_context("send_welcome", i))
        emulator_server.inject("error", status=502, shape="html", deliver=True)
        with pytest.raises(AirflowFailException):
            SendLinkedInMessageOperator(
                task_id="send_followup",
                recipient_profile_id="katherine-j",
                message="Hello again!",
                dedupe_key="campaign:spring-launch:katherine-j",
                ledger_conn_id="cs_ledger",
            ).execute(_context("send_followup"))
    store = SendLedger.sqlite(home.path / "shared-ledger.sqlite")
    assert store.get("campaign:spring-launch:katherine-j").state == "unknown"
    yield store
    store.close()
    emulator_server.reset()


@pytest.fixture(scope="module")
def chromium(server, ledger):
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server.wait_healthy()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _login(chromium, server: ApiServer, user: str):
    """A fresh browser session, logged in through Airflow's login form; the ledger page open."""
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 1200, "height": 860})
    page.set_default_timeout(30_000)
    page.goto(f"{server.base}/plugin/connectsafely")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/plugin/connectsafely")
    frame = page.frame_locator("iframe")
    expect(frame.locator("body[data-loaded='true']")).to_have_count(1)
    return page, frame


def test_viewer_reads_the_page_but_cannot_settle(chromium, server, ledger):
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "viewer")
    expect(frame.locator("#today .card")).to_have_count(1)
    expect(frame.locator("#today .num")).to_have_text("4 / 20")  # the connection's daily_limit
    expect(frame.locator("#chart rect.bar")).to_have_count(30)
    expect(frame.locator("#daily-total")).to_have_text("(4 in total)")
    row = frame.locator("#campaigns tr[data-campaign='spring-launch'] td")
    expect(row).to_have_text(["spring-launch", "batch", "4", "0", "1", "0", "-", "-", "-"])
    expect(frame.locator("#sends tbody tr")).to_have_count(5)
    link = frame.locator("#sends tr[data-key='campaign:spring-launch:ada-lovelace'] a")
    expect(link).to_have_attribute(
        "href",
        f"/dags/{DAG_ID}/runs/{RUN_ID.replace(':', '%3A').replace('+', '%2B')}/tasks/send_welcome/mapped/0",
    )
    # Search and the state filter.
    frame.locator("#search").fill("grace")
    frame.get_by_role("button", name="Apply").click()
    expect(frame.locator("#sends tbody tr")).to_have_count(1)
    frame.locator("#search").fill("")
    frame.locator("#state").select_option("unknown")
    frame.get_by_role("button", name="Apply").click()
    expect(frame.locator("#sends tbody tr")).to_have_count(1)
    # A viewer may open the dialog, but the server refuses the settlement.
    frame.get_by_role("button", name="Settle").click()
    frame.locator("#settle-note").fill("checked the thread")
    with page.expect_response(lambda r: r.url.endswith("/connectsafely/api/settle")) as answer:
        frame.locator("#settle-confirm").click()
    assert answer.value.status == 403
    expect(frame.locator("#settle-error")).to_have_text("Forbidden")
    assert ledger.get("campaign:spring-launch:katherine-j").state == "unknown"
    assert API_KEY not in page.content() + frame.locator("html").inner_html()
    page.close()


def test_admin_settles_the_unknown_send(chromium, server, ledger):
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "admin")
    unknown = frame.locator("#sends tr[data-key='campaign:spring-launch:katherine-j']")
    expect(unknown.locator(".state")).to_have_text("unknown")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    # The docs' picture: an unknown send and its Settle button (rewritten only when asked).
    page.screenshot(path=str(ARTIFACTS / "ledger-page.png"))
    if os.environ.get("CONNECTSAFELY_UPDATE_DOCS_SCREENSHOT"):
        page.screenshot(path=str(SCREENSHOT))
    unknown.get_by_role("button", name="Settle").click()
    dialog = frame.locator("#settle-dialog")
    expect(dialog).to_contain_text("lets the next run send this message again")
    # The note is required.
    frame.locator("input[name='settle-state'][value='failed']").check()
    frame.locator("#settle-confirm").click()
    expect(frame.locator("#settle-error")).to_contain_text("note is required")
    frame.locator("#settle-note").fill("No message in the LinkedIn thread: send it again")
    with page.expect_response(lambda r: r.url.endswith("/connectsafely/api/settle")) as answer:
        frame.locator("#settle-confirm").click()
    assert answer.value.status == 200, answer.value.text()
    expect(unknown.locator(".state")).to_have_text("failed")
    expect(unknown).to_contain_text("settled by admin: No message in the LinkedIn thread")
    entry = ledger.get("campaign:spring-launch:katherine-j")
    assert (entry.state, entry.settled_by, entry.may_send_again) == ("failed", "admin", True)
    page.screenshot(path=str(ARTIFACTS / "ledger-page-settled.png"))
    page.close()
