"""The connection request operator in real DAG runs (dag.test() against the emulator):
templates, the ledger across runs, the relationship check, the weekly cap and a 429 hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from helpers.connections import API_KEY
from helpers.dag_runs import load_dag, rendered_fields, task_results

from airflow_provider_connectsafely.ledger.records import CONNECT, NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach import caps

CONNECT_PATH = "/linkedin/connect"


def connects(emulator) -> list[dict]:
    return [r for r in emulator.requests() if r["path"] == CONNECT_PATH]


def tries(run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}


def test_sends_once_and_a_second_run_skips_through_the_ledger(connection, airflow_db):
    run = load_dag("connectsafely_test_connect").test()
    results = task_results(run)
    state, answer = results[("connect", -1)]
    assert state == "success"
    assert answer["success"] is True and answer["invitationId"]
    [sent] = connects(connection)
    assert sent["body"] == {
        "profileId": "connie",
        "customMessage": "Hi Connie, I liked your talk at connectsafely_test_connect.",
    }
    rendered = rendered_fields(run)
    assert rendered[("connect", -1)]["recipient_profile_id"] == "https://www.linkedin.com/in/connie/"
    # The note rendered to 301 characters: failed at once (no Airflow retry although the task
    # has retries=2), before any request (the operator tests check the error's words).
    assert rendered[("note_too_long", -1)]["note"] == "x" * 301
    assert tries(run)["note_too_long"] == ("failed", 1)
    assert all("long-lee" not in r["path"] for r in connection.requests())
    assert API_KEY not in repr(results) and API_KEY not in repr(rendered)

    # A second run: the ledger knows the invitation went out; no request at all.
    before = len(connection.requests())
    again = task_results(load_dag("connectsafely_test_connect").test())
    assert again[("connect", -1)] == ("success", answer)
    assert len(connection.requests()) == before


def test_connected_and_invited_people_are_skipped(connection, airflow_db):
    dag = load_dag("connectsafely_test_connect")
    first = task_results(dag.test(run_conf={"person": "acceptor", "dedupe_key": "run-1"}))
    assert first[("connect", -1)][0] == "success" and len(connects(connection)) == 1

    # Under a new dedupe key the ledger allows it, but the invitation is still pending.
    pending = task_results(dag.test(run_conf={"person": "acceptor", "dedupe_key": "run-2"}))
    state, result = pending[("connect", -1)]
    assert state == "success" and "invitationId" not in result
    assert (result["status"], result["invitationSent"], result["connected"]) == ("pending", True, False)

    connection.accept_invitation("acceptor")
    connected = task_results(dag.test(run_conf={"person": "acceptor", "dedupe_key": "run-3"}))
    state, result = connected[("connect", -1)]
    assert state == "success" and result["connected"] is True and result["status"] == "connected"
    assert len(connects(connection)) == 1

    # A new person is invited as usual.
    fresh = task_results(dag.test(run_conf={"person": "newbie", "first_name": "Nia"}))
    assert fresh[("connect", -1)][1]["invitationId"]
    assert [r["body"]["profileId"] for r in connects(connection)] == ["acceptor", "newbie"]


def test_a_429_hold_defers_and_the_weekly_cap_skips_or_fails(connection, airflow_db, monkeypatch):
    # Every window holds the whole run: nothing resets during it.
    monkeypatch.setattr(caps, "weekly_window", lambda now: (now - timedelta(days=1), now + timedelta(days=6)))
    connection.inject("rate_limit_hold_until", seconds=2)
    run = load_dag("connectsafely_test_connect_limits").test()
    states = tries(run)
    results = task_results(run)

    assert states["held"][0] == "success" and results[("held", -1)][1]["invitationId"]
    held = [r for r in connects(connection) if r["body"]["profileId"] == "held-hal"]
    assert [r["status"] for r in held] == [429, 200]
    waited = datetime.fromisoformat(held[1]["at"]) - datetime.fromisoformat(held[0]["at"])
    assert waited >= timedelta(seconds=1.5)  # resumed after the hold, not retried at once

    assert states["first"][0] == "success"
    assert states["capped_skip"][0] == "skipped"
    assert states["capped_fail"][0] == "failed"
    assert [r["body"]["profileId"] for r in connects(connection)] == ["held-hal", "held-hal", "cap-one"]


def test_the_weekly_cap_defers_until_the_window_resets(
    connection, airflow_db, monkeypatch, isolated_default_ledger
):
    # The cap (1) is already used this week by an earlier request of the same account.
    ledger = SendLedger.sqlite(isolated_default_ledger)
    seeded = NewSend("connect:default:seeded", "default", "seeded", kind=CONNECT)
    ledger.mark_sent(seeded.dedupe_key, ledger.claim(seeded).token or "", {"success": True})
    ledger.close()

    # The week ends two seconds after the task first looks at it.
    ends: list[datetime] = []

    def short_week(now: datetime) -> tuple[datetime, datetime]:
        if not ends:
            ends.append(now + timedelta(seconds=2))
        reset = ends[0]
        return (reset - timedelta(days=7), reset) if now < reset else (reset, reset + timedelta(days=7))

    monkeypatch.setattr(caps, "weekly_window", short_week)
    run = load_dag("connectsafely_test_connect_defer").test()
    state, answer = task_results(run)[("capped_defer", -1)]
    assert state == "success" and answer["invitationId"]
    [sent] = connects(connection)
    assert datetime.fromisoformat(sent["at"]) >= ends[0]
