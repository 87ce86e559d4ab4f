"""The ledger page's security in a real ``airflow api-server`` (the simple auth manager, not
in all-admins mode): anonymous requests are refused, a viewer reads but cannot settle, an
admin settles, and the UI's session cookie works like the header."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from helpers.airflow_server import AirflowHome, ApiServer

from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _send(ledger: SendLedger, clock: Clock, when: datetime, key: str, outcome: str, **kw) -> None:
    clock.now = when
    claim = ledger.claim(NewSend(key, "acct-1", key.rsplit(":", 1)[-1], **kw))
    assert claim.claimed and claim.token
    if outcome == "sent":
        ledger.mark_sent(key, claim.token, {"messageId": "m"})
    else:
        ledger.mark_unknown(key, claim.token, "timed out after sending")


PASSWORDS = {"admin": "admin-pw-4f1c", "viewer": "viewer-pw-9b2e"}


def users_env(home_path) -> dict[str, str]:
    """The simple auth manager with an admin and a viewer whose passwords we know."""
    passwords = home_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }


def token(base: str, user: str) -> str:
    import requests

    answer = requests.post(
        f"{base}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    home = AirflowHome(tmp_path_factory.mktemp("plugin-airflow-home"))
    home.env.update(users_env(home.path))
    home.airflow("db", "migrate")
    clock = Clock(datetime.now(timezone.utc))
    ledger = SendLedger.sqlite(home.path / "connectsafely_ledger.sqlite", clock=clock)
    _send(ledger, clock, clock.now, "campaign:launch:zoe", "unknown", dag_id="d", task_id="t", run_id="r")
    _send(ledger, clock, clock.now, "campaign:launch:yan", "sent")
    server = ApiServer(home)
    try:
        server.wait_healthy()
        yield server, ledger
    finally:
        server.stop()
        ledger.close()


def test_real_api_server_anonymous_viewer_admin(real_server):
    import requests

    server, ledger = real_server
    base = f"{server.base}/connectsafely"
    body = {"dedupe_key": "campaign:launch:zoe", "state": "sent", "note": "seen in the thread"}
    routes = (
        "/",
        "/api/today",
        "/api/sends",
        "/api/sends.csv",
        "/api/funnel?campaign=batch:launch",
        "/api/replies",
    )
    for route in routes:
        assert requests.get(base + route, timeout=30).status_code in (401, 403)
    assert requests.post(f"{base}/api/settle", json=body, timeout=30).status_code in (401, 403)
    forged = {"Authorization": "Bearer not-a-jwt"}
    assert requests.get(f"{base}/api/today", headers=forged, timeout=30).status_code in (401, 403)

    viewer = {"Authorization": f"Bearer {token(server.base, 'viewer')}"}
    today = requests.get(f"{base}/api/today", headers=viewer, timeout=30)
    assert today.status_code == 200, today.text
    assert today.json()["accounts"] == [
        {
            "account": "acct-1",
            "sent_today": 1,
            "cap": 150,
            "left": 149,
            "cap_source": "assumed",
            "connects_this_week": 0,
            "connect_cap": 90,
            "connect_cap_source": "assumed",
            "unavailable": None,
        }
    ]
    for route in routes[3:]:
        assert requests.get(base + route, headers=viewer, timeout=30).status_code == 200, route
    csv_text = requests.get(f"{base}/api/sends.csv", headers=viewer, timeout=30).text
    assert "campaign:launch:zoe" in csv_text and "campaign:launch:yan" in csv_text
    rows = requests.get(f"{base}/api/sends", headers=viewer, timeout=30).json()["rows"]
    assert {r["recipient"] for r in rows} == {"zoe", "yan"}
    page = requests.get(f"{base}/", headers=viewer, timeout=30)
    assert page.status_code == 200 and "ConnectSafely send ledger" in page.text
    refused = requests.post(f"{base}/api/settle", json=body, headers=viewer, timeout=30)
    assert refused.status_code == 403
    assert ledger.get("campaign:launch:zoe").state == "unknown"

    # The UI's session cookie works as well as the header (what the page's fetches use).
    admin_token = token(server.base, "admin")
    done = requests.post(f"{base}/api/settle", json=body, cookies={"_token": admin_token}, timeout=30)
    assert done.status_code == 200, done.text
    entry = ledger.get("campaign:launch:zoe")
    assert (entry.state, entry.settled_by, entry.settle_note) == ("sent", "admin", "seen in the thread")

    # The plugin is listed by the API server, and nothing secret is in what it served.
    plugins = requests.get(f"{server.base}/api/v2/plugins", headers=viewer, timeout=30).json()
    mine = [p for p in plugins["plugins"] if p["name"] == "connectsafely"]
    assert mine and mine[0]["external_views"][0]["href"] == "/connectsafely/"
    assert PASSWORDS["admin"] not in server.log()
