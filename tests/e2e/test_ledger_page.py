"""End to end: the ledger page in a real Airflow API server, in headless Chromium.

The ledger is filled by real sends (the operators against the emulator): messages from two
accounts in two batch campaigns, connection requests of a connect-first sequence (with its
enrolments), one send ending ``unknown`` and one settled by hand. It is kept in a SQLite
ledger named by a connection that both the sends and the API server use (``[connectsafely]
ledger_conn_id``). The DAG that "sent" them is in the Airflow home with a run, so the links
to its task instances open real task instance pages.

A viewer reads the page, follows a task instance link out of Airflow's sandboxed frame, sees
it in the dark theme, and cannot settle; an admin settles the unknown row through the dialog.
A second server, under a sub-path (``[api] base_url``) and with no ledger configured, shows
the page unframed with its fallback notice, and its links keep the sub-path.

The screenshot before settling goes to ``test-artifacts/ui/ledger-page.png``; with
``CONNECTSAFELY_UPDATE_SCREENSHOTS=1`` (``make screenshots``) it also replaces
``docs/images/ledger-page.png``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from helpers.airflow_server import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    AirflowHome,
    ApiServer,
    free_port,
    missing,
)
from helpers.connections import API_KEY, connection_json
from helpers.paths import REPO

from airflow_provider_connectsafely.cli.ledger_format import EXPORT_COLUMNS
from airflow_provider_connectsafely.compat import AirflowFailException
from airflow_provider_connectsafely.emulator.state import default_account_ids
from airflow_provider_connectsafely.ledger import account_status
from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.sequences import SKIP_CAP, SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

pytestmark = pytest.mark.browser

SCREENSHOT = REPO / "docs" / "images" / "ledger-page.png"
FUNNEL_SCREENSHOT = REPO / "docs" / "images" / "ledger-funnel.png"
UPDATE_SCREENSHOTS = "CONNECTSAFELY_UPDATE_SCREENSHOTS"
PASSWORDS = {"admin": "admin-pw-7d3a", "viewer": "viewer-pw-c81f"}
DAG_ID = "linkedin_outreach"
# A manual run: Airflow refuses a triggered run whose ID starts with scheduled__.
RUN_ID = "manual__2026-12-01T09:00:00+00:00"
#: The emulator's second account (the first is the connection's default: ``default`` in the ledger).
SECOND_ACCOUNT = default_account_ids()[1]
WELCOMED = ["ada-lovelace", "alan-turing", "grace-hopper", "linus-t"]
PARTNERS = ["hedy-lamarr", "claude-shannon"]
FOUNDERS = ["barbara-liskov", "ken-thompson", "radia-perlman"]
SUB_PATH = "/airflow"
# The DAG whose task instances the ledger's rows name: parsed into the Airflow home and run
# once (queued, never executed), so the UI has the task instances the links open.
DAG_FILE = f"""
from airflow.sdk import DAG

from airflow_provider_connectsafely.operators.connections import SendLinkedInConnectionRequestOperator
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

with DAG({DAG_ID!r}, schedule=None):
    SendLinkedInMessageOperator.partial(task_id="send_welcome", message="Hello!").expand(
        recipient_profile_id={WELCOMED!r}
    )
    SendLinkedInMessageOperator(task_id="send_followup", recipient_profile_id="katherine-j", message="Hi!")
    SendLinkedInMessageOperator(task_id="send_reminder", recipient_profile_id="margaret-h", message="Hi!")
    SendLinkedInMessageOperator.partial(
        task_id="send_partner_note", message="Hello!", account_id={SECOND_ACCOUNT!r}
    ).expand(recipient_profile_id={PARTNERS!r})
    SendLinkedInConnectionRequestOperator.partial(
        task_id="invite_founders", account_id={SECOND_ACCOUNT!r}, skip_if_connected=False
    ).expand(recipient_profile_id={FOUNDERS!r})
"""


def _ti_path(task_id: str, map_index: int = -1) -> str:
    path = f"/dags/{DAG_ID}/runs/{quote(RUN_ID, safe='')}/tasks/{task_id}"
    return path if map_index < 0 else f"{path}/mapped/{map_index}"


def _with_dag_run(home: AirflowHome) -> None:
    """The metadata database migrated, the DAG parsed into it and one run of it triggered."""
    (home.path / "dags" / f"{DAG_ID}.py").write_text(DAG_FILE)
    home.airflow("db", "migrate")
    home.airflow("dags", "reserialize")
    home.airflow("dags", "trigger", DAG_ID, "--run-id", RUN_ID)


def _users(home: AirflowHome) -> None:
    passwords = home.path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    home.env.update(
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory, emulator_server) -> AirflowHome:
    home = AirflowHome(tmp_path_factory.mktemp("ledger-page-home"))
    _users(home)
    ledger_conn = json.dumps({"conn_type": "sqlite", "host": str(home.path / "shared-ledger.sqlite")})
    home.env.update(
        AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID="cs_ledger",
        AIRFLOW_CONN_CS_LEDGER=ledger_conn,
        AIRFLOW_CONN_CONNECTSAFELY_DEFAULT=connection_json(emulator_server.url, daily_limit=20),
    )
    _with_dag_run(home)
    return home


def _stop(api: ApiServer, name: str) -> None:
    api.stop()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(api.log_path, ARTIFACTS / name)


@pytest.fixture(scope="module")
def server(home: AirflowHome):
    api = ApiServer(home)  # starts now; the sends below run while it boots
    try:
        yield api
    finally:
        _stop(api, "ledger-page-api-server.log")


def _context(task_id: str, map_index: int = -1) -> dict:
    ti = SimpleNamespace(dag_id=DAG_ID, task_id=task_id, run_id=RUN_ID, map_index=map_index, try_number=1)
    ti.xcom_push = lambda key, value: None
    return {"ti": ti, "run_id": RUN_ID}


def _send_unknown(emulator_server, task_id: str, person: str) -> None:
    """A message the API may or may not have delivered (a 502 after delivery): ``unknown``."""
    emulator_server.inject("error", status=502, shape="html", deliver=True)
    with pytest.raises(AirflowFailException):
        SendLinkedInMessageOperator(
            task_id=task_id,
            recipient_profile_id=person,
            message="Hello again!",
            dedupe_key=f"campaign:spring-launch:{person}",
            ledger_conn_id="cs_ledger",
        ).execute(_context(task_id))


@pytest.fixture(scope="module")
def ledger(home, server, emulator_server):
    """Real sends through the operators and the emulator, into the ledger the server reads."""
    emulator_server.reset()
    env = {
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT": home.env["AIRFLOW_CONN_CONNECTSAFELY_DEFAULT"],
        "AIRFLOW_CONN_CS_LEDGER": home.env["AIRFLOW_CONN_CS_LEDGER"],
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for i, person in enumerate(WELCOMED):
            SendLinkedInMessageOperator(
                task_id="send_welcome",
                recipient_profile_id=person,
                message="Hello!",
                dedupe_key=f"campaign:spring-launch:{person}",
                ledger_conn_id="cs_ledger",
            ).execute(_context("send_welcome", i))
        for i, person in enumerate(PARTNERS):
            SendLinkedInMessageOperator(
                task_id="send_partner_note",
                recipient_profile_id=person,
                message="Hello!",
                account_id=SECOND_ACCOUNT,
                dedupe_key=f"campaign:q4-partners:{person}",
                ledger_conn_id="cs_ledger",
            ).execute(_context("send_partner_note", i))
        # A connect-first sequence: its first step's connection requests.
        for i, person in enumerate(FOUNDERS):
            SendLinkedInConnectionRequestOperator(
                task_id="invite_founders",
                recipient_profile_id=person,
                account_id=SECOND_ACCOUNT,
                skip_if_connected=False,
                dedupe_key=f"sequence:founders-intro:0:{person}",
                ledger_conn_id="cs_ledger",
            ).execute(_context("invite_founders", i))
        _send_unknown(emulator_server, "send_reminder", "margaret-h")
        _send_unknown(emulator_server, "send_followup", "katherine-j")
    store = SendLedger.sqlite(home.path / "shared-ledger.sqlite")
    # Someone checked one of them on LinkedIn already: settled, with who and why.
    assert store.resolve(
        "campaign:spring-launch:margaret-h", "sent", "Found it in the LinkedIn thread", settled_by="admin"
    )
    # The sequence's bookkeeping as its runs leave it (times relative to the invitations):
    # all three invited, two accepted, one sent step 2 and replied two hours later, one held
    # by the weekly cap; and the second account refused a later task (403).
    sequence = SequenceStore(store)
    sequence.enroll("founders-intro", [(person, SECOND_ACCOUNT, {}) for person in FOUNDERS])
    invited = store.get(f"sequence:founders-intro:0:{FOUNDERS[0]}").updated_at
    people = {e.recipient: e for e in sequence.enrollments("founders-intro")}
    for person in FOUNDERS:
        assert sequence.advance(people[person], sent_at=invited, conversation_urn=None, finished=False)
    for person in FOUNDERS[:2]:
        assert sequence.mark_accepted(people[person], invited + timedelta(hours=5))
    first = people[FOUNDERS[0]]
    urn = "urn:li:msg_conversation:(urn:li:fsd_profile:ACoAAFounder,2-founders1==)"
    later = invited + timedelta(hours=6)
    assert sequence.advance(first, sent_at=later, conversation_urn=urn, finished=False)
    assert sequence.mark_replied(first, later + timedelta(hours=2), "Happy to talk next week\nBest, Barbara")
    sequence.note_skipped("founders-intro", [FOUNDERS[2]], SKIP_CAP, later)
    account_status.mark_unavailable(
        store, SECOND_ACCOUNT, "PermissionDeniedError: HTTP 403: account restricted"
    )
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


def _sign_in(page, user: str) -> None:
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()


def _login(chromium, server: ApiServer, user: str, **options):
    """A fresh browser session, logged in through Airflow's login form; the ledger page open
    in the UI (``options``: Playwright's, e.g. ``color_scheme``)."""
    from playwright.sync_api import expect

    options.setdefault("viewport", {"width": 1200, "height": 860})
    page = chromium.new_page(**options)
    page.set_default_timeout(30_000)
    page.goto(f"{server.base}/plugin/connectsafely")
    _sign_in(page, user)
    page.wait_for_url("**/plugin/connectsafely**")
    frame = page.frame_locator("iframe")
    expect(frame.locator("body[data-loaded='true']")).to_have_count(1)
    return page, frame


def _background(locator) -> str:
    return locator.evaluate("node => getComputedStyle(node).backgroundColor")


def test_viewer_reads_the_page_but_cannot_settle(chromium, server, ledger):
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "viewer")
    # Per account: messages today against the daily cap, connection requests this week
    # against the weekly cap (the caps the tasks applied: the connection's 20, the default 90).
    expect(frame.locator("#today .card")).to_have_count(2)
    default = frame.locator("#today .card[data-account='default']")
    expect(default.locator(".num")).to_have_text("5 / 20")
    expect(default.locator(".connects")).to_have_text("0 / 90 connection requests this week")
    second = frame.locator(f"#today .card[data-account='{SECOND_ACCOUNT}']")
    expect(second.locator(".num")).to_have_text("2 / 20")
    expect(second.locator(".connects")).to_have_text("3 / 90 connection requests this week (cap applied)")
    expect(second.locator(".connects")).to_be_visible()
    # A task found the second account refusing (403): marked, with since when.
    expect(second).to_have_class("card unavailable")
    expect(second.locator(".down")).to_contain_text("Unavailable since ")
    expect(second.locator(".down")).to_contain_text("PermissionDeniedError: HTTP 403: account restricted")
    expect(default.locator(".down")).to_have_count(0)
    # Which ledger this is; no fallback notice (the configuration names the ledger).
    where = frame.locator("#ledger-where")
    expect(where).to_contain_text(f"Ledger: sqlite:///{server.log_path.parent}/shared-ledger.sqlite")
    expect(where).to_contain_text("([connectsafely] ledger_conn_id = 'cs_ledger')")
    expect(frame.locator("#notice")).to_be_hidden()
    expect(frame.locator("#chart rect.bar")).to_have_count(30)
    expect(frame.locator("#daily-total")).to_have_text("(7 in total)")
    rows = {
        "founders-intro": ["founders-intro", "sequence", "3", "0", "0", "0", "2", "1", "0", "Funnel"],
        "q4-partners": ["q4-partners", "batch", "2", "0", "0", "0", "-", "-", "-", "Funnel"],
        "spring-launch": ["spring-launch", "batch", "5", "0", "1", "0", "-", "-", "-", "Funnel"],
    }
    for campaign, cells in rows.items():
        expect(frame.locator(f"#campaigns tr[data-campaign='{campaign}'] td")).to_have_text(cells)
    expect(frame.locator("#sends tbody tr")).to_have_count(11)
    link = frame.locator("#sends tr[data-key='campaign:spring-launch:ada-lovelace'] a")
    expect(link).to_have_attribute("href", _ti_path("send_welcome", 0))
    settled = frame.locator("#sends tr[data-key='campaign:spring-launch:margaret-h']")
    expect(settled).to_contain_text("settled by admin at ")
    expect(settled).to_contain_text("UTC: Found it in the LinkedIn thread")
    expect(settled.locator(".run-id")).to_have_text(RUN_ID)
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


def test_a_task_instance_link_opens_the_task_in_the_ui(chromium, server, ledger):
    """Airflow frames the page in a sandbox without allow-top-navigation: a click moves the
    UI's own router (no reload), to the task instance's page; Back returns to the ledger."""
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "viewer")
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "allow-top-navigation" in m.text else None)
    page.evaluate("window.connectsafelyMarker = 'same page'")  # gone if the UI reloaded
    link = frame.locator("#sends tr[data-key='campaign:spring-launch:katherine-j'] a")
    expect(link).to_have_attribute("href", _ti_path("send_followup"))
    expect(link).to_have_attribute("target", "_top")
    # A modified click is left to the browser: a new tab, the UI staying on the ledger.
    with page.context.expect_page() as opened:
        link.click(modifiers=["ControlOrMeta"])
    opened.value.wait_for_url(f"{server.base}{_ti_path('send_followup')}")
    opened.value.close()
    assert "/plugin/connectsafely" in page.url
    link.click()
    page.wait_for_url(f"{server.base}{_ti_path('send_followup')}")
    # The task instance's own page: its operator, and its tabs.
    expect(page.get_by_text("SendLinkedInMessageOperator").first).to_be_visible()
    expect(page.get_by_text("Rendered Templates").first).to_be_visible()
    expect(page.locator("iframe")).to_have_count(0)
    assert page.evaluate("window.connectsafelyMarker") == "same page"
    assert refused == []
    page.go_back()
    page.wait_for_url("**/plugin/connectsafely**")
    expect(page.frame_locator("iframe").locator("body[data-loaded='true']")).to_have_count(1)
    page.close()


def test_the_page_follows_the_dark_theme(chromium, server, ledger):
    """Dark when the system is (``prefers-color-scheme``), and as the user sets the UI: the
    page follows the class Airflow puts on its own ``<html>``."""
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "viewer")
    light = _background(frame.locator("body"))
    assert light == "rgb(255, 255, 255)"
    page.close()
    page, frame = _login(chromium, server, "viewer", color_scheme="dark")
    assert page.evaluate("document.documentElement.classList.contains('dark')")
    expect(frame.locator("html")).to_have_attribute("data-theme", "dark")
    dark = _background(frame.locator("body"))
    assert dark != light
    assert _background(frame.locator("#sends th").first) != "rgb(247, 250, 252)"
    page.screenshot(path=str(ARTIFACTS / "ledger-page-dark.png"))
    # The user picks light in the UI (User > Appearance), over the system's dark: so does the page.
    page.get_by_role("button", name="User").click()
    page.get_by_role("menuitem", name="Appearance").click()
    page.get_by_role("menuitemradio", name="Light Mode").click()
    expect(frame.locator("html")).to_have_attribute("data-theme", "light")
    expect(frame.locator("body")).to_have_css("background-color", light)
    page.close()


def test_funnel_replies_filters_and_csv(chromium, server, ledger, tmp_path):
    """Per campaign the funnel with its rates, the latest replies with a link to LinkedIn
    (opened by the UI's window: the frame may not open tabs), the sends table filtered by
    account, days and run, and the CSV of that filter."""
    from playwright.sync_api import expect

    page, frame = _login(chromium, server, "viewer", viewport={"width": 1280, "height": 1000})
    # The funnel opens on the sequence: 3 invited, 2 accepted (of 3 requests), 1 replied.
    expect(frame.locator("#funnel-campaign")).to_have_value("sequence:founders-intro")
    stages = frame.locator("#funnel .stage")
    expect(stages).to_have_count(4)
    expect(stages.nth(0)).to_contain_text("enrolled3")
    expect(stages.nth(1)).to_contain_text("first step sent3100.0% of enrolled")
    expect(stages.nth(2)).to_contain_text("accepted266.7% of connection requests sent")
    expect(stages.nth(3)).to_contain_text("replied133.3% of first step sent")
    expect(frame.locator("#funnel-steps tr[data-step='1'] td")).to_have_text(["1", "3", "0", "0.0%", "-"])
    expect(frame.locator("#funnel-steps tr[data-step='2'] td")).to_have_text(
        ["2", "1", "1", "100.0%", "2.0 h"]
    )
    expect(frame.locator("#funnel-skipped")).to_contain_text("cap: 1")
    frame.locator("#funnel-section").screenshot(path=str(ARTIFACTS / "ledger-funnel.png"))
    if os.environ.get(UPDATE_SCREENSHOTS) == "1":
        shutil.copy(ARTIFACTS / "ledger-funnel.png", FUNNEL_SCREENSHOT)
    # A batch's funnel, from its row's button; and back through the picker.
    frame.locator("#campaigns tr[data-campaign='spring-launch'] button.show-funnel").click()
    expect(frame.locator("#funnel")).to_contain_text("A batch: 5 sent, 0 failed, 1 unknown, 0 pending")
    frame.locator("#funnel-campaign").select_option("sequence:founders-intro")
    expect(frame.locator("#funnel .stage")).to_have_count(4)

    # The latest replies, filterable by campaign; the conversation opens on LinkedIn.
    reply = frame.locator(f"#replies tr[data-recipient='{FOUNDERS[0]}'] td")
    expect(reply).to_have_count(7)
    expect(reply.nth(1)).to_have_text("founders-intro")
    expect(reply.nth(2)).to_have_text("2")
    expect(reply.nth(4)).to_have_text("Happy to talk next week")
    frame.locator("#replies-campaign").select_option("sequence:founders-intro")
    expect(frame.locator("#replies tbody tr")).to_have_count(1)
    thread = "https://www.linkedin.com/messaging/thread/2-founders1==/"
    page.context.route(
        "https://www.linkedin.com/**", lambda route: route.fulfill(body="LinkedIn", content_type="text/plain")
    )
    link = frame.get_by_role("link", name="Open on LinkedIn")
    expect(link).to_have_attribute("href", thread)
    with page.context.expect_page() as opened:
        link.click()
    opened.value.wait_for_url(thread)
    opened.value.close()
    assert "/plugin/connectsafely" in page.url

    # Filters: the second account's sends of the run, then a day range with none.
    frame.locator("#account").fill(SECOND_ACCOUNT)
    frame.locator("#run-id").fill(RUN_ID)
    frame.get_by_role("button", name="Apply").click()
    expect(frame.locator("#sends tbody tr")).to_have_count(5)
    expect(frame.locator("#page-info")).to_have_text("Page 1 of 1 (5 sends)")
    expect(frame.locator("#sends tbody tr td:nth-child(3)")).to_have_text([SECOND_ACCOUNT] * 5)
    with page.expect_download() as download:
        frame.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "sends.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(newline="", encoding="utf-8")))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert sorted(r[0] for r in rows[1:]) == sorted(
        [f"campaign:q4-partners:{p}" for p in PARTNERS] + [f"sequence:founders-intro:0:{p}" for p in FOUNDERS]
    )
    frame.locator("#since").fill("2001-01-01")
    frame.locator("#until").fill("2001-01-31")
    frame.get_by_role("button", name="Apply").click()
    expect(frame.locator("#sends tbody")).to_have_text("No sends match.")
    page.close()


def test_a_task_links_to_the_page_filtered_to_its_campaign_and_run(chromium, server, ledger, monkeypatch):
    """The "ConnectSafely ledger" extra link (as the worker computes it) opens the page with
    the sends of that campaign and run, and the funnel on that campaign."""
    from playwright.sync_api import expect

    from airflow_provider_connectsafely.operators.links import ConnectSafelyLedgerLink
    from airflow_provider_connectsafely.operators.sequence import LinkedInSequenceOperator
    from airflow_provider_connectsafely.outreach.steps import SequenceStep

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", server.base)
    operator = LinkedInSequenceOperator(
        task_id="invite_founders",
        campaign="founders-intro",
        steps=[SequenceStep("Hi")],
        recipients=[{"profile_id": "a"}],
    )
    key = SimpleNamespace(dag_id=DAG_ID, task_id="invite_founders", run_id=RUN_ID, map_index=-1)
    url = ConnectSafelyLedgerLink().get_link(operator, ti_key=key)
    assert url.startswith(f"{server.base}/connectsafely/?campaign=sequence%3Afounders-intro&run_id=")
    page, _frame = _login(chromium, server, "viewer")
    page.goto(url)
    expect(page.locator("body[data-loaded='true']")).to_have_count(1)
    expect(page.locator("#campaign")).to_have_value("sequence:founders-intro")
    expect(page.locator("#run-id")).to_have_value(RUN_ID)
    expect(page.locator("#funnel-campaign")).to_have_value("sequence:founders-intro")
    expect(page.locator("#sends tbody tr")).to_have_count(3)
    page.close()


def test_admin_settles_the_unknown_send(chromium, server, ledger):
    from playwright.sync_api import expect

    # Tall enough for the docs' picture to show the whole sends table.
    page, frame = _login(chromium, server, "admin", viewport={"width": 1280, "height": 1400})
    unknown = frame.locator("#sends tr[data-key='campaign:spring-launch:katherine-j']")
    expect(unknown.locator(".state")).to_have_text("unknown")
    expect(frame.locator("#today .connects")).to_have_count(2)
    # The docs' picture: two accounts, three campaigns, a settled and an unknown send.
    page.screenshot(path=str(ARTIFACTS / "ledger-page.png"))
    if os.environ.get(UPDATE_SCREENSHOTS) == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / "ledger-page.png", SCREENSHOT)
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
    expect(unknown).to_contain_text("UTC: No message in the LinkedIn thread")
    entry = ledger.get("campaign:spring-launch:katherine-j")
    assert (entry.state, entry.settled_by, entry.may_send_again) == ("failed", "admin", True)
    page.screenshot(path=str(ARTIFACTS / "ledger-page-settled.png"))
    page.close()


def test_do_not_contact_from_the_page_needs_the_settle_permission_and_a_note(chromium, server, ledger):
    from playwright.sync_api import expect

    key = "campaign:spring-launch:ada-lovelace"
    page, frame = _login(chromium, server, "viewer")
    row = frame.locator(f"#sends tr[data-key='{key}']")
    row.get_by_role("button", name="Do not contact").click()
    frame.locator("#dnc-note").fill("asked by email")
    with page.expect_response(lambda r: r.url.endswith("/connectsafely/api/do-not-contact")) as refused:
        frame.locator("#dnc-confirm").click()
    assert refused.value.status == 403
    expect(frame.locator("#dnc-error")).to_be_visible()
    assert ledger.suppressions() == []
    page.close()

    page, frame = _login(chromium, server, "admin")
    row = frame.locator(f"#sends tr[data-key='{key}']")
    row.get_by_role("button", name="Do not contact").click()
    expect(frame.locator("#dnc-dialog")).to_contain_text("in any campaign")
    frame.locator("#dnc-confirm").click()
    expect(frame.locator("#dnc-error")).to_contain_text("note is required")
    frame.locator("#dnc-note").fill("Asked by email not to be contacted")
    with page.expect_response(lambda r: r.url.endswith("/connectsafely/api/do-not-contact")) as answer:
        frame.locator("#dnc-confirm").click()
    assert answer.value.status == 200, answer.value.text()
    expect(row.locator("span.dnc")).to_have_text("do not contact")
    expect(row.get_by_role("button", name="Do not contact")).to_have_count(0)
    [entry] = ledger.suppressions("ada-lovelace")
    assert (entry.scope, entry.source, entry.created_by, entry.reason) == (
        "",
        "manual",
        "admin",
        "Asked by email not to be contacted",
    )
    # From a reply in the latest replies: the person who answered.
    reply = frame.locator(f"#replies tr[data-recipient='{FOUNDERS[0]}']")
    reply.get_by_role("button", name="Do not contact").click()
    frame.locator("#dnc-note").fill("Replied: no more messages")
    with page.expect_response(lambda r: r.url.endswith("/connectsafely/api/do-not-contact")) as answer:
        frame.locator("#dnc-confirm").click()
    assert answer.value.status == 200, answer.value.text()
    expect(reply.locator("span.dnc")).to_have_text("do not contact")
    [entry] = ledger.suppressions(FOUNDERS[0])
    assert (entry.source, entry.reason) == ("manual", "Replied: no more messages")
    page.close()


@pytest.fixture(scope="module")
def sub_path_server(tmp_path_factory, emulator_server, chromium):
    """An API server under ``/airflow`` that names no ledger: the page reads the default
    SQLite file, while a ConnectSafely connection names a ledger of its own."""
    home = AirflowHome(tmp_path_factory.mktemp("ledger-page-sub-path"))
    _users(home)
    port = free_port()
    home.env.update(
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}{SUB_PATH}",
        AIRFLOW_CONN_CONNECTSAFELY_SALES=connection_json(emulator_server.url, ledger_conn_id="sales_ledger"),
    )
    _with_dag_run(home)
    api = ApiServer(home, port=port)
    store = SendLedger.sqlite(home.path / "connectsafely_ledger.sqlite")
    key = "campaign:spring-launch:katherine-j"
    task = {"dag_id": DAG_ID, "task_id": "send_followup", "run_id": RUN_ID, "map_index": -1}
    store.mark_sent(key, store.claim(NewSend(key, "default", "katherine-j", **task)).token, {})
    store.close()
    try:
        yield api.wait_healthy()
    finally:
        _stop(api, "ledger-page-sub-path-api-server.log")


def test_under_a_sub_path_the_unframed_page_links_and_notes_its_fallback(chromium, sub_path_server):
    """Opened on its own (not in the UI's frame), a link is an ordinary one; every address
    keeps the sub-path; the page says it fell back to the default SQLite file."""
    from playwright.sync_api import expect

    server = sub_path_server
    page = chromium.new_page(viewport={"width": 1200, "height": 860})
    page.set_default_timeout(30_000)
    page.goto(f"{server.base}{SUB_PATH}/")
    _sign_in(page, "viewer")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{server.base}{SUB_PATH}/connectsafely/")
    expect(page.locator("body[data-loaded='true']")).to_have_count(1)
    expect(page.locator("#ledger-where")).to_contain_text("(the default SQLite file)")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_have_text(
        "Note: ConnectSafely connection 'connectsafely_sales' names 'sales_ledger'; tasks using "
        "it write there. Set [connectsafely] ledger_conn_id (AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID) "
        "so every surface uses one ledger, or pass --ledger-conn-id."
    )
    expect(page.locator("#today .connects")).to_have_text("0 / 90 connection requests this week")
    link = page.locator("#sends tr[data-key='campaign:spring-launch:katherine-j'] a")
    expect(link).to_have_attribute("href", f"{SUB_PATH}{_ti_path('send_followup')}")
    link.click()
    page.wait_for_url(f"{server.base}{SUB_PATH}{_ti_path('send_followup')}")
    expect(page.get_by_text("SendLinkedInMessageOperator").first).to_be_visible()
    # The navigation's entry frames the page under the sub-path too (it was a 404).
    page.goto(f"{server.base}{SUB_PATH}/plugin/connectsafely")
    expect(page.locator("iframe")).to_have_attribute("src", f"{SUB_PATH}/connectsafely/")
    expect(page.frame_locator("iframe").locator("body[data-loaded='true']")).to_have_count(1)
    page.close()
