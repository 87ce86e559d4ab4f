"""The extra of a campaign asset event (no Airflow)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.outreach.campaign_events import campaign_event_extra

AT = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
SOURCE = ("dag", "task", "run", -1)


def batch_result(rows: int) -> dict:
    outcomes = [
        {"recipient": f"p{n}", "status": "sent", "dedupe_key": f"campaign:c:p{n}", "message": "Hi"}
        for n in range(rows)
    ]
    return {"summary": {"total": rows, "dry_run": False, "sent": rows, "failed": 0}, "outcomes": outcomes}


def test_a_batch_result_becomes_counts_and_rows_without_message_text():
    extra = campaign_event_extra(batch_result(2), campaign="c", source=SOURCE, emitted_at=AT)
    assert extra == {
        "campaign": "c",
        "dry_run": False,
        "emitted_at": "2030-05-06T07:08:09+00:00",
        "counts": {"total": 2, "sent": 2, "failed": 0},
        "source": {"dag_id": "dag", "task_id": "task", "run_id": "run", "map_index": -1},
        "outcomes": [{"recipient": "p0", "status": "sent"}, {"recipient": "p1", "status": "sent"}],
    }


def test_more_rows_than_the_limit_leave_a_pointer_to_the_xcom():
    at_limit = campaign_event_extra(batch_result(3), campaign="c", source=SOURCE, emitted_at=AT, limit=3)
    assert len(at_limit["outcomes"]) == 3 and "outcomes_in" not in at_limit
    over = campaign_event_extra(batch_result(4), campaign="c", source=SOURCE, emitted_at=AT, limit=3)
    assert over["outcomes"] is None and over["counts"]["sent"] == 4
    assert over["outcomes_in"]["xcom_key"] == "return_value" and over["outcomes_in"]["rows"] == 4
    assert "ASSET_EVENT_OUTCOMES" in over["outcomes_in"]["why"]


def test_the_default_limit_is_read_from_defaults_when_called(monkeypatch):
    monkeypatch.setattr(defaults, "ASSET_EVENT_OUTCOMES", 1)
    assert campaign_event_extra(batch_result(2), campaign="c", source=None, emitted_at=AT)["outcomes"] is None


def test_a_single_send_is_counted_from_its_row_and_a_sequence_names_its_campaign():
    single = campaign_event_extra(
        {"success": True},
        campaign="welcome",
        source=None,
        emitted_at=AT,
        rows=[{"recipient": "a", "status": "sent"}],
    )
    assert single["counts"] == {"sent": 1} and single["source"] is None
    sequence = {"summary": {"campaign": "seq", "dry_run": True, "would_send": 1}, "outcomes": []}
    extra = campaign_event_extra(sequence, campaign=None, source=None, emitted_at=AT)
    assert (extra["campaign"], extra["dry_run"], extra["counts"]) == ("seq", True, {"would_send": 1})
