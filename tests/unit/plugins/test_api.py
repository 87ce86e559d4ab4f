"""The ledger page's FastAPI app: its numbers on a seeded ledger with a fixed clock, with
the auth checks replaced. The real checks, in a real ``airflow api-server``, are in
``tests/integration/test_ledger_page_auth.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.locate import LedgerLocation
from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.plugins import api, data, location

NOW = datetime(2031, 3, 15, 10, 30, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _send(ledger: SendLedger, clock: Clock, when: datetime, key: str, outcome: str, **kw) -> None:
    clock.now = when
    account = kw.pop("account", "acct-1")
    recipient = key.rsplit(":", 1)[-1]
    claim = ledger.claim(NewSend(key, account, recipient, **kw))
    assert claim.claimed and claim.token
    if outcome == "sent":
        ledger.mark_sent(key, claim.token, {"messageId": "m"})
    elif outcome == "failed":
        ledger.mark_failed(key, claim.token, "HTTP 400: bad recipient", retryable=False)
    elif outcome == "unknown":
        ledger.mark_unknown(key, claim.token, "timed out after sending")
    # "pending": left claimed


@pytest.fixture
def seeded(tmp_path):
    """A SQLite ledger: sends today and on earlier days, a batch and a sequence campaign."""
    clock = Clock(NOW)
    path = tmp_path / "ledger.sqlite"
    ledger = SendLedger.sqlite(path, clock=clock)
    task = {"dag_id": "outreach", "task_id": "send", "run_id": "manual__2031-03-15T10:00:00+00:00"}
    today = NOW.replace(hour=9)
    _send(ledger, clock, today, "campaign:spring:alice", "sent", **task)
    _send(ledger, clock, today, "campaign:spring:bob", "sent", **task, map_index=3)
    _send(ledger, clock, today, "campaign:spring:carol", "unknown", **task)
    _send(ledger, clock, today, "campaign:spring:dave", "failed", **task)
    _send(ledger, clock, today, "campaign:spring:eve", "pending", **task)
    _send(ledger, clock, today, "welcome:frank", "sent", account="acct-2")
    _send(ledger, clock, NOW - timedelta(days=1), "campaign:spring:gina", "sent")
    _send(ledger, clock, NOW - timedelta(days=1), "campaign:spring:hugo", "sent")
    _send(ledger, clock, NOW - timedelta(days=29), "campaign:old:ivan", "sent")
    _send(ledger, clock, NOW - timedelta(days=30), "campaign:old:jane", "sent")  # outside the 30 days
    # 23:59 yesterday does not count today.
    _send(ledger, clock, NOW.replace(hour=0, minute=0) - timedelta(seconds=1), "campaign:old:kim", "sent")
    clock.now = NOW - timedelta(days=2)
    seq = SequenceStore(ledger)
    seq.enroll("drip", [("p1", "acct-1", {}), ("p2", "acct-1", {}), ("p3", "acct-1", {})])
    [first, second, _] = seq.enrollments("drip")
    seq.mark_replied(first, NOW - timedelta(days=1), "thanks!")
    seq.set_state(second, "finished")
    _send(ledger, clock, NOW - timedelta(days=2), "sequence:drip:0:p1", "sent")
    clock.now = NOW
    yield ledger, clock, path
    ledger.close()
    locate.close_all()


@pytest.fixture
def client(seeded):
    _, clock, path = seeded
    who = {"name": "alice.ops"}
    app = api.create_app(
        clock=clock,
        ledger_location=lambda: at(path),
        daily_cap=lambda: 150,
        security={api.reader: lambda: who["name"], api.settler: lambda: who["name"]},
    )
    with TestClient(app) as test_client:
        yield test_client


def test_today_counts_sends_since_midnight_utc_against_the_cap(client, seeded):
    ledger, clock, _ = seeded
    # Connection requests count against the week (from Monday 00:00 UTC), never the day's cap.
    _send(ledger, clock, NOW.replace(hour=8), "connect:acct-2:zoe", "sent", account="acct-2", kind="connect")
    _send(
        ledger, clock, NOW - timedelta(days=5), "connect:acct-2:yan", "sent", account="acct-2", kind="connect"
    )
    _send(
        ledger, clock, NOW - timedelta(days=6), "connect:acct-2:xia", "sent", account="acct-2", kind="connect"
    )
    clock.now = NOW
    answer = client.get("/api/today")
    assert answer.status_code == 200
    connects = {"connect_cap": 90, "connects_this_week": 0}
    assumed = {"cap_source": "assumed", "connect_cap_source": "assumed", "unavailable": None}
    assert answer.json() == {
        "day_start": "2031-03-15T00:00:00+00:00",
        "week_start": "2031-03-10T00:00:00+00:00",
        "cap": 150,
        "connect_cap": 90,
        "accounts": [
            {"account": "acct-1", "sent_today": 2, "cap": 150, "left": 148, **connects, **assumed},
            {
                "account": "acct-2",
                "sent_today": 1,
                "cap": 150,
                "left": 149,
                **connects,
                "connects_this_week": 2,
                **assumed,
            },
        ],
        "ledger": answer.json()["ledger"],
        "notice": None,
    }
    assert answer.json()["ledger"].endswith("(given URL)")


def test_daily_series_covers_30_days_ending_today(client):
    days = client.get("/api/daily").json()
    assert len(days["days"]) == 30
    assert days["days"][0]["day"] == "2031-02-14" and days["days"][-1]["day"] == "2031-03-15"
    by_day = {d["day"]: d["sent"] for d in days["days"] if d["sent"]}
    assert by_day == {"2031-02-14": 1, "2031-03-13": 1, "2031-03-14": 3, "2031-03-15": 3}
    assert days["total"] == 8


def test_campaign_funnel(client):
    found = {c["campaign"]: c for c in client.get("/api/campaigns").json()["campaigns"]}
    assert set(found) == {"spring", "old", "drip"}
    assert found["spring"]["kind"] == "batch"
    assert found["spring"]["sends"] == {"pending": 1, "sent": 4, "failed": 1, "unknown": 1}
    assert found["spring"]["enrollments"] is None
    drip = found["drip"]
    assert drip["kind"] == "sequence" and drip["sends"]["sent"] == 1
    assert (
        drip["enrollments"]["active"],
        drip["enrollments"]["replied"],
        drip["enrollments"]["finished"],
    ) == (
        1,
        1,
        1,
    )


def test_campaign_funnel_matches_the_ledger_queries(seeded):
    """Grouped in SQL, the same figures as ``queries.campaign_stats`` (which parses every key),
    including URN recipients and keys whose end is not the row's recipient."""
    from airflow_provider_connectsafely.ledger import queries

    ledger, clock, _ = seeded
    _send(ledger, clock, NOW, "campaign:spring:urn:li:fsd_profile:ACoAA1", "sent")
    _send(ledger, clock, NOW, "campaign:a:b:urn:li:fsd_profile:ACoAA2", "failed")  # campaign "a:b"
    clock.now = NOW
    claim = ledger.claim(NewSend("campaign:odd:someone-else", "acct-1", "not-in-the-key"))
    ledger.mark_sent("campaign:odd:someone-else", claim.token, {})
    expected = [
        {
            "campaign": s.campaign,
            "kind": s.kind,
            "label": f"{s.kind}:{s.campaign}",
            "sends": s.states,
            "enrollments": s.enrollments,
        }
        for s in queries.campaign_stats(ledger, queries.Filters())
    ]
    assert data.campaigns(ledger)["campaigns"] == expected
    assert {c["campaign"] for c in expected} >= {"a:b", "odd", "spring", "drip"}


def test_sends_table_pages_searches_and_filters(client):
    first = client.get("/api/sends", params={"size": 5}).json()
    assert (first["total"], first["pages"], len(first["rows"])) == (12, 3, 5)
    assert first["rows"][0]["updated_at"] >= first["rows"][-1]["updated_at"]
    third = client.get("/api/sends", params={"size": 5, "page": 3}).json()
    assert len(third["rows"]) == 2
    everything = [
        r["dedupe_key"]
        for p in (1, 2, 3)
        for r in client.get("/api/sends", params={"size": 5, "page": p}).json()["rows"]
    ]
    assert len(set(everything)) == 12

    unknown = client.get("/api/sends", params={"state": "unknown"}).json()["rows"]
    [row] = unknown
    assert row["recipient"] == "carol" and row["campaign"] == "spring" and row["settleable"]
    assert row["error"] == "timed out after sending"
    assert row["task_instance_url"] == (
        "/dags/outreach/runs/manual__2031-03-15T10%3A00%3A00%2B00%3A00/tasks/send"
    )
    [bob] = client.get("/api/sends", params={"q": "BO"}).json()["rows"]
    assert bob["task_instance_url"].endswith("/tasks/send/mapped/3")
    assert "response" not in bob  # the stored API answer is never sent to the page
    # the beginning of a recipient, case-insensitively; not the middle
    assert client.get("/api/sends", params={"q": "Bob"}).json()["total"] == 1
    assert client.get("/api/sends", params={"q": "ob"}).json()["total"] == 0

    spring = client.get("/api/sends", params={"campaign": "batch:spring"}).json()
    assert (spring["total"], spring["total_capped"]) == (7, False)
    assert {r["campaign"] for r in spring["rows"]} == {"spring"}
    unknown_spring = client.get("/api/sends", params={"campaign": "batch:spring", "state": "unknown"})
    assert unknown_spring.json()["total"] == 1
    assert client.get("/api/sends", params={"campaign": "sequence:spring"}).json()["total"] == 0
    # Search text is a bound parameter, and LIKE wildcards are taken literally.
    assert client.get("/api/sends", params={"q": "%"}).json()["total"] == 0
    assert client.get("/api/sends", params={"q": "_"}).json()["total"] == 0
    assert client.get("/api/sends", params={"q": "' OR 1=1 --"}).json()["total"] == 0
    assert client.get("/api/sends", params={"state": "bogus"}).status_code == 422
    assert client.get("/api/sends", params={"size": 10_000}).status_code == 422


def test_settle_records_the_user_and_the_note(client, seeded):
    ledger, clock, _ = seeded
    key = "campaign:spring:carol"
    missing_note = client.post("/api/settle", json={"dedupe_key": key, "state": "failed", "note": " "})
    assert missing_note.status_code == 422
    assert (
        client.post("/api/settle", json={"dedupe_key": key, "state": "maybe", "note": "x"}).status_code == 422
    )
    clock.now = NOW + timedelta(minutes=5)
    answer = client.post(
        "/api/settle", json={"dedupe_key": key, "state": "failed", "note": "no message in the thread"}
    )
    assert answer.status_code == 200, answer.text
    settled = answer.json()["settled"]
    assert (settled["state"], settled["settled_by"], settled["settle_note"]) == (
        "failed",
        "alice.ops",
        "no message in the thread",
    )
    entry = ledger.get(key)
    assert entry is not None and entry.state == "failed" and entry.may_send_again
    assert entry.settled_by == "alice.ops" and entry.settled_at == NOW + timedelta(minutes=5)
    # Only pending/unknown rows can be settled: a second time, or a sent row, is a conflict.
    again = client.post("/api/settle", json={"dedupe_key": key, "state": "sent", "note": "again"})
    assert again.status_code == 409
    sent = client.post(
        "/api/settle", json={"dedupe_key": "campaign:spring:alice", "state": "failed", "note": "x"}
    )
    assert sent.status_code == 409
    assert ledger.get("campaign:spring:alice").state == "sent"
    pending = client.post(
        "/api/settle", json={"dedupe_key": "campaign:spring:eve", "state": "sent", "note": "delivered"}
    )
    assert pending.status_code == 200 and ledger.get("campaign:spring:eve").state == "sent"


def test_do_not_contact_suppresses_the_sends_person_everywhere_with_the_note(client, seeded):
    ledger, _clock, _ = seeded
    key = "campaign:spring:carol"
    assert client.post("/api/do-not-contact", json={"dedupe_key": key, "note": "  "}).status_code == 422
    assert client.post("/api/do-not-contact", json={"dedupe_key": "nope", "note": "x"}).status_code == 404

    answer = client.post("/api/do-not-contact", json={"dedupe_key": key, "note": "asked on the phone"})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"do_not_contact": "carol"}
    [entry] = ledger.suppressions("carol")
    assert (entry.scope, entry.source, entry.created_by, entry.reason) == (
        "",
        "manual",
        "alice.ops",
        "asked on the phone",
    )
    rows = {r["dedupe_key"]: r for r in client.get("/api/sends").json()["rows"]}
    assert rows[key]["do_not_contact"] is True
    assert rows["campaign:spring:alice"]["do_not_contact"] is False
    assert ledger.claim(NewSend("campaign:autumn:carol", "a", "carol")).suppressed is not None


def test_page_and_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (
        'src="static/ledger.js"' in page.text
        and "http" not in page.text.replace('xmlns="http', "").split("<body>")[0]
    )
    script = client.get("/static/ledger.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text  # values go in through textContent
    assert client.get("/static/../api.py").status_code == 404
    assert client.get("/static/other.js").status_code == 404


def test_missing_or_old_ledger_gives_a_clear_message(tmp_path, seeded):
    from sqlalchemy import text

    security = {api.reader: lambda: "u", api.settler: lambda: "u"}
    missing = api.create_app(ledger_location=lambda: at(tmp_path / "nope.sqlite"), security=security)
    with TestClient(missing) as c:
        answer = c.get("/api/today")
    assert answer.status_code == 503
    assert (
        "No send ledger at" in answer.json()["detail"] and "first send creates it" in answer.json()["detail"]
    )
    assert not (tmp_path / "nope.sqlite").exists()  # nothing created

    old = tmp_path / "old.sqlite"
    ledger = SendLedger.sqlite(old)
    ledger.ensure_schema()
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE connectsafely_ledger_version SET version_num = '0002'"))
    ledger.close()
    app = api.create_app(ledger_location=lambda: at(old), security=security)
    with TestClient(app) as c:
        answer = c.get("/api/sends")
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert "schema version 0002" in detail and "never migrates" in detail
    assert "connectsafely-ledger upgrade" in detail
    check = SendLedger.sqlite(old)
    assert check.schema_version() == "0002"  # still old: the page migrated nothing
    check.close()


def test_without_credentials_every_route_is_refused(seeded):
    """The API server's own checks (not overridden): no token, no data."""
    _, _, path = seeded
    app = api.create_app(ledger_location=lambda: at(path))
    with TestClient(app) as c:
        for method, route in [
            ("GET", "/"),
            ("GET", "/static/ledger.js"),
            ("GET", "/api/today"),
            ("GET", "/api/daily"),
            ("GET", "/api/campaigns"),
            ("GET", "/api/sends"),
            ("GET", "/api/variants?campaign=sequence:q4"),
            ("GET", "/api/sends.csv"),
            ("GET", "/api/funnel?campaign=sequence:drip"),
            ("GET", "/api/replies"),
            ("POST", "/api/settle"),
        ]:
            kwargs = {"json": {"dedupe_key": "k", "state": "sent", "note": "n"}} if method == "POST" else {}
            answer = c.request(method, route, **kwargs)
            assert answer.status_code in (401, 403), (route, answer.status_code)


def test_daily_cap_comes_from_the_default_connection(monkeypatch):
    conn = {"conn_type": "connectsafely", "host": "http://127.0.0.1:1", "password": "secret-key"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", json.dumps({**conn, "extra": {"daily_limit": 40}})
    )
    assert location.daily_cap() == 40
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", json.dumps({**conn, "extra": {"daily_limit": "x"}})
    )
    assert location.daily_cap() == 150
    monkeypatch.delenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT")
    assert location.daily_cap() == 150


def test_ledger_location_from_config(monkeypatch, isolated_default_ledger):
    monkeypatch.delenv("AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID", raising=False)
    assert location.ledger_location().url == f"sqlite:///{isolated_default_ledger}"
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID", "shared_ledger")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SHARED_LEDGER",
        json.dumps({"conn_type": "postgres", "host": "db", "login": "u", "password": "pw", "schema": "l"}),
    )
    assert location.ledger_location().url.endswith("://u:pw@db/l")
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID", "not_defined")
    with pytest.raises(location.LedgerUnavailable, match="not_defined"):
        location.ledger_location()


def test_today_shows_the_cap_the_tasks_applied(client, seeded):
    ledger, _, _ = seeded
    before = {row["account"]: row for row in client.get("/api/today").json()["accounts"]}
    assert before["acct-1"]["cap_source"] == "assumed" and before["acct-1"]["cap"] == 150
    ledger.note_cap("acct-1", "message", NOW.replace(hour=0, minute=0), 40)
    after = {row["account"]: row for row in client.get("/api/today").json()["accounts"]}
    assert after["acct-1"]["cap"] == 40 and after["acct-1"]["cap_source"] == "applied"
    assert after["acct-1"]["left"] == max(40 - after["acct-1"]["sent_today"], 0)
    answer = client.get("/api/today").json()
    assert "ledger" in answer and "notice" in answer


def at(path) -> LedgerLocation:
    return LedgerLocation(f"sqlite:///{path}", "argument")


def test_a_campaigns_results_per_step_and_variant(tmp_path):
    from helpers import variant_ledger

    path = tmp_path / "ab.sqlite"
    ledger = SendLedger.sqlite(path)
    variant_ledger.fill(ledger)
    ledger.close()
    app = api.create_app(
        ledger_location=lambda: at(path), security={api.reader: lambda: "ann", api.settler: lambda: "ann"}
    )
    with TestClient(app) as c:
        sequence = c.get("/api/variants", params={"campaign": "sequence:q4"}).json()
        batch = c.get("/api/variants", params={"campaign": "batch:spring"}).json()
        nothing = c.get("/api/variants", params={"campaign": "no-kind"}).json()
        assert c.get("/api/variants").status_code == 422
    locate.close_all()

    assert sequence["campaign"] == "sequence:q4"
    assert [
        (r["step"], r["variant"], r["sent"], r["replied"], r["reply_rate"], r["ci95"])
        for r in sequence["results"]
    ] == [
        (1, "a", 10, 3, 0.3, [0.1078, 0.6032]),
        (1, "b", 8, 1, 0.125, [0.0224, 0.4709]),
        (2, None, 5, 2, 0.4, [0.1176, 0.7693]),
    ]
    assert [(r["variant"], r["sent"], r["replied"], r["ci95"]) for r in batch["results"]] == [
        ("a", 4, None, None),
        ("b", 2, None, None),
    ]
    assert nothing == {"campaign": "no-kind", "results": []}


def test_sends_filter_by_account_days_and_run_with_exact_totals(client, seeded):
    _ledger, _clock, _ = seeded
    acct2 = client.get("/api/sends", params={"account": "acct-2"}).json()
    assert [r["recipient"] for r in acct2["rows"]] == ["frank"] and acct2["total"] == 1
    yesterday = client.get("/api/sends", params={"since": "2031-03-14", "until": "2031-03-14"}).json()
    assert {r["recipient"] for r in yesterday["rows"]} == {"gina", "hugo", "kim"}
    assert yesterday["total"] == 3
    since = client.get("/api/sends", params={"since": "2031-03-14", "campaign": "batch:old"}).json()
    assert [r["recipient"] for r in since["rows"]] == ["kim"] and since["total"] == 1
    run = client.get("/api/sends", params={"run_id": "manual__2031-03-15T10:00:00+00:00"}).json()
    assert run["total"] == 5 and {r["run_id"] for r in run["rows"]} == {"manual__2031-03-15T10:00:00+00:00"}
    assert client.get("/api/sends", params={"since": "15/03/2031"}).status_code == 422


def test_settled_rows_show_who_when_and_the_note(client, seeded):
    _, clock, _ = seeded
    clock.now = NOW + timedelta(minutes=5)
    key = "campaign:spring:carol"
    assert (
        client.post("/api/settle", json={"dedupe_key": key, "state": "sent", "note": "seen"}).status_code
        == 200
    )
    [row] = client.get("/api/sends", params={"q": "carol"}).json()["rows"]
    assert (row["settled_by"], row["settled_at"], row["settle_note"]) == (
        "alice.ops",
        (NOW + timedelta(minutes=5)).isoformat(),
        "seen",
    )


def test_csv_download_has_the_export_columns_and_the_current_filter(client, seeded):
    import csv
    import io

    from airflow_provider_connectsafely.cli.ledger_format import EXPORT_COLUMNS, write_csv

    ledger, _, _ = seeded
    answer = client.get("/api/sends.csv", params={"campaign": "batch:spring", "state": "sent"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert sorted(r[EXPORT_COLUMNS.index("key")] for r in rows[1:]) == [
        "campaign:spring:alice",
        "campaign:spring:bob",
        "campaign:spring:gina",
        "campaign:spring:hugo",
    ]
    # the same cells as the CLI's export of those rows
    cli = io.StringIO()
    write_csv([ledger.get(r[0]) for r in rows[1:]], cli)
    assert list(csv.reader(io.StringIO(cli.getvalue()))) == rows
    empty = client.get("/api/sends.csv", params={"account": "nobody"})
    assert list(csv.reader(io.StringIO(empty.text))) == [list(EXPORT_COLUMNS)]


def test_replies_newest_first_with_the_first_line_and_a_linkedin_link(client, seeded):
    ledger, _clock, _ = seeded
    store = SequenceStore(ledger)
    store.enroll("other", [("zed", "acct-2", {})])
    zed = store.get_many("other", ["zed"])["zed"]
    store.advance(
        zed,
        sent_at=NOW - timedelta(hours=3),
        conversation_urn="urn:li:msg_conversation:(urn:li:fsd_profile:ACoAA9,2-abc==)",
        finished=False,
    )
    store.mark_replied(zed, NOW - timedelta(hours=1), "\n  Sounds good <b>x</b>  \nsecond line")

    answer = client.get("/api/replies").json()["replies"]

    assert [(r["campaign"], r["recipient"]) for r in answer] == [("other", "zed"), ("drip", "p1")]
    assert answer[0] == {
        "campaign": "other",
        "recipient": "zed",
        "account": "acct-2",
        "step": 1,
        "replied_at": (NOW - timedelta(hours=1)).isoformat(),
        "first_line": "Sounds good <b>x</b>",
        "conversation_url": "https://www.linkedin.com/messaging/thread/2-abc==/",
        "do_not_contact": False,
        "opted_out": False,
    }
    assert answer[1]["conversation_url"] is None and answer[1]["first_line"] == "thanks!"
    only = client.get("/api/replies", params={"campaign": "sequence:drip"}).json()["replies"]
    assert [r["recipient"] for r in only] == ["p1"]


def test_a_reply_shows_whether_its_person_opted_out_or_is_listed_and_can_be_listed(client, seeded):
    ledger, _clock, _ = seeded
    store = SequenceStore(ledger)
    store.enroll("other", [("zed", "acct-2", {}), ("yan", "acct-2", {})])
    for who in ("zed", "yan"):
        person = store.get_many("other", [who])[who]
        store.advance(person, sent_at=NOW - timedelta(hours=3), conversation_urn=None, finished=False)
        store.mark_replied(person, NOW - timedelta(hours=1), "Please remove me")
    ledger.suppress("zed", reason="Please remove me", source="reply")

    def flags() -> dict[str, tuple[bool, bool]]:
        answer = client.get("/api/replies", params={"campaign": "sequence:other"}).json()["replies"]
        return {r["recipient"]: (r["do_not_contact"], r["opted_out"]) for r in answer}

    assert flags() == {"zed": (True, True), "yan": (False, False)}
    listed = client.post(
        "/api/do-not-contact",
        json={"campaign": "sequence:other", "recipient": "yan", "note": "asked by phone"},
    )
    assert listed.status_code == 200 and listed.json() == {"do_not_contact": "yan"}
    [entry] = ledger.suppressions("yan")
    assert (entry.source, entry.reason) == ("manual", "asked by phone")
    nobody = {"campaign": "sequence:other", "recipient": "nobody", "note": "x"}
    assert client.post("/api/do-not-contact", json=nobody).status_code == 404
    both = {"campaign": "sequence:other", "recipient": "yan", "dedupe_key": "k", "note": "x"}
    assert client.post("/api/do-not-contact", json=both).status_code == 422
    assert client.post("/api/do-not-contact", json={"note": "x"}).status_code == 422
    assert flags() == {"zed": (True, True), "yan": (True, False)}


def test_conversation_links_from_both_urn_forms():
    assert data.conversation_url("urn:li:msg_conversation:2-xyz") == (
        "https://www.linkedin.com/messaging/thread/2-xyz/"
    )
    assert data.conversation_url("urn:li:msg_conversation:(urn:li:fsd_profile:A,2-a/b)") == (
        "https://www.linkedin.com/messaging/thread/2-a%2Fb/"
    )
    assert data.conversation_url(None) is None


def test_funnel_route(client):
    found = client.get("/api/funnel", params={"campaign": "sequence:drip"}).json()
    assert found["enrolled"] == 3 and found["replied"] == 1
    assert client.get("/api/funnel").status_code == 422


def test_an_unavailable_account_is_listed_with_when(client, seeded):
    from airflow_provider_connectsafely.ledger import account_status

    ledger, clock, _ = seeded
    clock.now = NOW - timedelta(hours=2)
    account_status.mark_unavailable(ledger, "acct-9", "AuthenticationError: HTTP 401: invalid API key")
    clock.now = NOW - timedelta(hours=1)
    account_status.mark_unavailable(ledger, "acct-9", "PermissionDeniedError: HTTP 403")
    clock.now = NOW
    accounts = {a["account"]: a for a in client.get("/api/today").json()["accounts"]}
    assert accounts["acct-9"]["sent_today"] == 0
    assert accounts["acct-9"]["unavailable"] == {
        "reason": "PermissionDeniedError: HTTP 403",
        "since": (NOW - timedelta(hours=2)).isoformat(),
        "seen_at": (NOW - timedelta(hours=1)).isoformat(),
    }
    assert accounts["acct-1"]["unavailable"] is None
    account_status.mark_available(ledger, ["acct-9"])
    assert "acct-9" not in {a["account"] for a in client.get("/api/today").json()["accounts"]}
