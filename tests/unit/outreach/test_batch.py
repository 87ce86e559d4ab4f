"""The batch loop below the operator: order, dedupe, pacing, stopping, reporting (fake API,
real SQLite ledger, no Airflow)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.batch import PROBLEMS_LOGGED, BatchRun, prepare_items
from airflow_provider_connectsafely.outreach.delivery import GuardedSender


class FakeApi:
    def __init__(self, fail: dict[str, errors.ConnectSafelyError] | None = None) -> None:
        self.sent: list[str] = []
        self.fail = fail or {}

    def __call__(self, request: MessageRequest) -> dict:
        if request.recipient in self.fail:
            raise self.fail[request.recipient]
        self.sent.append(request.recipient)
        return {"success": True, "recipientProfileUrn": f"urn:li:fsd_profile:{request.recipient}"}


@pytest.fixture
def store(tmp_path):
    ledger = SendLedger.sqlite(tmp_path / "l.sqlite")
    yield ledger
    ledger.close()


def items(*names: str, campaign: str = "c"):
    rows = [{"recipient_profile_id": n, "first": n.title()} for n in names]
    return prepare_items(rows, lambda r: (f"Hi {r['first']}", None), campaign=campaign)


def run(api, store, **kwargs) -> BatchRun:
    return BatchRun(GuardedSender(api, store, daily_limit=0), **kwargs)


def test_sends_each_recipient_once_across_runs(store):
    api = FakeApi()
    batch = items("ann", "bob")
    first = run(api, store).send_all(batch, store.get_many(i.key for i in batch))
    again = run(api, store).send_all(batch, store.get_many(i.key for i in batch))
    assert [o.status for o in first] == ["sent", "sent"]
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert api.sent == ["ann", "bob"]


def test_invalid_rows_fail_alone_and_name_the_field(store):
    batch = prepare_items(
        [{"recipient_profile_id": "ann"}, {"nobody": 1}, 7],
        lambda r: ("Hello", None),
        campaign="c",
    )
    done = run(FakeApi(), store).send_all(batch, {})
    assert [o.status for o in done] == ["sent", "failed", "failed"]
    assert "recipient" in (done[1].reason or "") and "item 2 is int" in (done[2].reason or "")


def test_a_template_error_is_the_recipients_failure(store):
    def render(row):
        raise KeyError("first_name")

    (item,) = prepare_items(["ann"], render, campaign="c")
    assert item.request is None and "rendering failed" in str(item.error)


def test_an_error_no_one_can_get_past_stops_the_batch(store):
    api = FakeApi(fail={"bob": errors.AuthenticationError(401, "Invalid API key")})
    done = run(api, store).send_all(items("ann", "bob", "cy", "dee"), {})
    assert [o.status for o in done] == ["sent", "failed", "not_attempted", "not_attempted"]
    assert done[1].stops_batch and api.sent == ["ann"]


def test_pacing_waits_between_requests_only(store):
    waits: list[float] = []
    batch = items("ann", "bob", "cy")
    run(FakeApi(), store).send_all(batch[:1], {})  # ann already sent: no request, no wait
    done = run(FakeApi(), store, min_interval=5, jitter=0, sleep=waits.append).send_all(
        batch, store.get_many(i.key for i in batch)
    )
    assert [o.status for o in done] == ["skipped", "sent", "sent"]
    assert len(waits) == 1 and 4.9 < waits[0] <= 5


def test_dry_run_sends_and_records_nothing(store):
    api = FakeApi()
    done = BatchRun(None).dry_run(items("ann"), {})
    assert done[0].status == "would_send" and done[0].message == "Hi Ann"
    assert api.sent == [] and store.get_many(["campaign:c:ann"]) == {}


def test_report_logs_each_problem_with_its_reason_bounded(store, caplog):
    names = [f"p{n}" for n in range(PROBLEMS_LOGGED + 5)]
    api = FakeApi(fail={n: errors.NotFoundError(404, "Profile not found") for n in names})
    batch = BatchRun(GuardedSender(api, store, daily_limit=0), log=logging.getLogger("batch-test"))
    with caplog.at_level(logging.INFO, logger="batch-test"):
        result = batch.report(batch.send_all(items("ann", *names), {}))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == PROBLEMS_LOGGED + 1
    assert (
        warnings[0].startswith("Recipient p0: failed: NotFoundError") and "Profile not found" in warnings[0]
    )
    assert warnings[-1].startswith("... and 5 more failed, unknown or not attempted recipient(s)")
    assert result["summary"]["sent"] == 1 and result["summary"]["failed"] == len(names)
    assert any("Batch finished: 26 recipient(s): sent 1, failed 25" in r.getMessage() for r in caplog.records)


def test_unknown_after_skip_policy_is_not_this_runs_failure(store):
    api = FakeApi(fail={"ann": errors.DeliveryUnknownError("read timeout")})
    first = run(api, store).send_all(items("ann"), {})
    assert first[0].status == "unknown" and run(api, store).counts_as_failure(first[0])
    skip = BatchRun(GuardedSender(api, store, daily_limit=0, on_unknown="skip"), on_unknown="skip")
    batch = items("ann")
    later = skip.send_all(batch, store.get_many(i.key for i in batch))
    assert later[0].status == "unknown" and not skip.counts_as_failure(later[0])


def test_row_identity_is_the_identity_prepare_items_gives_without_rendering():
    from airflow_provider_connectsafely.outreach.batch import row_identity

    rows = [
        "Ann-Lee",
        {"profile_url": "https://www.linkedin.com/in/Bob-Ray-12/?trk=x"},
        {"recipient_profile_urn": "urn:li:fsd_profile:ACoAAB"},
        {"recipient_profile_id": "  cy  ", "profile_url": "https://www.linkedin.com/in/other/"},
    ]
    items = prepare_items(rows, lambda r: ("Hi", None), campaign="c")
    assert [row_identity(r) for r in rows] == [i.identity for i in items]
    assert [row_identity(r) for r in rows] == ["ann-lee", "bob-ray-12", "urn:li:fsd_profile:ACoAAB", "cy"]
    # Rows whose recipient is invalid have none: they go through prepare_items (reported invalid).
    bad = [
        {"profile_url": "https://example.com/x"},
        {"first": "no recipient"},
        42,
        {"recipient_profile_id": 7},
    ]
    assert [row_identity(r) for r in bad] == [None, None, None, None]


def test_prepare_items_can_prepare_only_some_rows_keeping_their_positions():
    rows = [{"recipient_profile_id": n} for n in ("ann", "bob", "cy")]
    items = prepare_items(rows, lambda r: ("Hi", None), campaign="c", only=[2, 0])
    assert [(i.index, i.identity) for i in items] == [(2, "cy"), (0, "ann")]


def test_prepare_items_renders_and_checks_every_variant_and_keeps_each_rows_own():
    from airflow_provider_connectsafely.outreach.variants import Variants, choose

    variants = Variants.of({"a": "A {{ r }}", "b": "B {{ r }}"}, {"a": 1, "b": 1})
    rendered: list[tuple[str, str]] = []

    def render(row, variant):
        rendered.append((row["recipient_profile_id"], variant))
        long = variant == "b" and row.get("long")
        return ("x" * 8001 if long else f"{variant.upper()} {row['recipient_profile_id']}"), None

    rows = [{"recipient_profile_id": f"p{n}"} for n in range(20)] + [{"recipient_profile_id": "z", "long": 1}]
    items = prepare_items(rows, render, campaign="spring", variants=variants)

    assert len(rendered) == 2 * len(rows)  # every variant for every row
    for item in items[:-1]:
        assert item.variant == choose({"a": 1, "b": 1}, "spring", item.identity)
        assert item.request.message == f"{item.variant.upper()} {item.identity}"
    assert {i.variant for i in items[:-1]} == {"a", "b"}
    bad = items[-1]
    assert bad.request is None and bad.error.field == "message_variants['b']"
    assert "over the normal limit" in str(bad.error)
