"""Sequences below the operator: enrolment, due steps, stop on reply, edits, crashes
(a fake API and reply reader, a real SQLite ledger, a settable clock; no Airflow)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.batch import prepare_items
from airflow_provider_connectsafely.outreach.delivery import GuardedSender
from airflow_provider_connectsafely.outreach.sequence import SequenceRun
from airflow_provider_connectsafely.outreach.steps import SequenceStep

START = datetime(2031, 5, 5, 9, 0, tzinfo=timezone.utc)
STEPS = [
    SequenceStep("Hi {{ recipient.first }}"),
    SequenceStep("Following up, {{ recipient.first }}", wait=timedelta(days=3)),
    SequenceStep("Last one", wait=timedelta(days=7)),
]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeApi:
    """Sends: records (recipient or conversation, text); answers with a conversation."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail: dict[str, errors.ConnectSafelyError] = {}

    def __call__(self, request: MessageRequest) -> dict:
        who = request.recipient
        if who in self.fail:
            raise self.fail[who]
        self.sent.append((who, request.message))
        urn = who if who.startswith("urn:li:msg_conversation:") else f"urn:li:msg_conversation:{who}"
        return {"success": True, "conversationUrn": urn, "recipientProfileUrn": f"urn:li:fsd_profile:{who}"}


class FakeReplies:
    def __init__(self) -> None:
        self.replies: list[dict] = []
        self.calls = 0

    def add(self, who: str, at: datetime, text: str = "Thanks, let's talk") -> None:
        self.replies.append(
            {
                "conversationUrn": f"urn:li:msg_conversation:{who}",
                "senderProfileId": who,
                "sentAt": at.isoformat(),
                "text": text,
            }
        )

    def recent(self, since, account_id):
        self.calls += 1
        return [r for r in self.replies if datetime.fromisoformat(r["sentAt"]) > since]

    def in_conversation(self, urn, since, account_id):
        raise AssertionError("the listing answers; no per-conversation reads")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock):
    store = SendLedger.sqlite(tmp_path / "l.sqlite", clock=clock)
    yield store
    store.close()


def render(step, data, number, variant=None):
    from jinja2 import Template

    return Template(step.template(variant)).render(recipient=data, step=number), None


def build(enrollment, message, subject):
    if enrollment.step and enrollment.conversation_urn:
        return MessageRequest(
            message=message, recipient_profile_id=None, recipient_profile_urn=enrollment.conversation_urn
        )
    return MessageRequest.build(message=message, recipient_profile_id=enrollment.recipient)


def sequence(ledger, api, replies=None, steps=STEPS, **kwargs) -> SequenceRun:
    return SequenceRun(
        campaign="q4",
        steps=steps,
        store=SequenceStore(ledger),
        sender=GuardedSender(api, ledger, daily_limit=0),
        build=build,
        render=render,
        replies=replies,
        **kwargs,
    )


def people(*names: str):
    rows = [{"recipient_profile_id": n, "first": n.title()} for n in names]
    return prepare_items(rows, lambda r: render(STEPS[0], r, 1), campaign="q4")


def test_steps_go_out_when_due_and_a_reply_stops_the_rest(ledger, clock):
    api, replies = FakeApi(), FakeReplies()
    first = sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert first["summary"]["enrolled"] == 2 and first["summary"]["sent_per_step"] == {"1": 2}
    assert api.sent == [("ann", "Hi Ann"), ("bob", "Hi Bob")]

    clock.now = START + timedelta(days=1)  # nothing due yet
    quiet = sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert quiet["summary"]["sent"] == 0 and quiet["summary"]["waiting"] == 2

    replies.add("bob", START + timedelta(days=2))
    clock.now = START + timedelta(days=3, minutes=1)
    second = sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert api.sent[-1] == ("urn:li:msg_conversation:ann", "Following up, Ann")  # in the conversation
    assert len(api.sent) == 3
    by = {o["recipient"]: o for o in second["outcomes"]}
    assert by["bob"]["status"] == "replied" and by["bob"]["reply_text"] == "Thanks, let's talk"
    assert second["summary"]["replied"] == 1

    clock.now = START + timedelta(days=11)
    third = sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert api.sent[-1] == ("urn:li:msg_conversation:ann", "Last one") and len(api.sent) == 4
    assert third["summary"]["finished"] == 1
    clock.now = START + timedelta(days=30)
    sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert len(api.sent) == 4  # finished and replied: nothing more, ever


def test_reply_detection_reads_from_a_watermark_not_the_whole_history(ledger, clock):
    api, replies = FakeApi(), FakeReplies()
    sequence(ledger, api, replies).execute(people("ann"))
    clock.now = START + timedelta(days=3, minutes=1)
    sequence(ledger, api, replies).execute(people("ann"))
    mark = SequenceStore(ledger).watermark("q4", "default")
    assert mark == START + timedelta(days=3, minutes=1) and replies.calls == 1


def test_a_crash_after_the_send_catches_up_without_sending_again(ledger, clock):
    api = FakeApi()
    run = sequence(ledger, api)
    store = run.store
    original = store.advance
    store.advance = lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed after the send"))  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        run.execute(people("ann"))
    store.advance = original  # type: ignore[method-assign]
    again = sequence(ledger, api).execute(people("ann"))
    assert api.sent == [("ann", "Hi Ann")]
    (outcome,) = again["outcomes"]
    assert outcome["step"] == 1 and outcome["status"] == "skipped"


def test_parallel_runs_send_each_step_once(ledger, clock):
    api = FakeApi()
    a, b = sequence(ledger, api), sequence(ledger, api)
    a.execute(people("ann", "bob"))
    b.execute(people("ann", "bob"))
    assert sorted(api.sent) == [("ann", "Hi Ann"), ("bob", "Hi Bob")]


def test_adding_a_step_later_reaches_those_who_finished(ledger, clock):
    api = FakeApi()
    one = [STEPS[0]]
    sequence(ledger, api, steps=one).execute(people("ann"))
    clock.now = START + timedelta(days=1)
    assert sequence(ledger, api, steps=one).execute(people("ann"))["summary"]["finished"] == 1
    clock.now = START + timedelta(days=4)
    sequence(ledger, api, steps=STEPS[:2]).execute(people("ann"))
    assert [text for _who, text in api.sent] == ["Hi Ann", "Following up, Ann"]
    clock.now = START + timedelta(days=20)
    sequence(ledger, api, steps=STEPS[:1]).execute(people("ann"))  # a step removed: nothing re-sent
    assert len(api.sent) == 2


def test_removed_recipients_continue_unless_told_to_stop(ledger, clock):
    api = FakeApi()
    sequence(ledger, api).execute(people("ann", "bob"))
    clock.now = START + timedelta(days=4)
    sequence(ledger, api).execute(people("ann"))  # bob left the query: goes on by default
    assert ("urn:li:msg_conversation:bob", "Following up, Bob") in api.sent
    clock.now = START + timedelta(days=12)
    result = sequence(ledger, api, on_removed="stop").execute(people("ann"))
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["bob"]["state"] == "removed" and by["ann"]["step"] == 3


def test_a_final_failure_ends_the_enrolment_and_names_why(ledger, clock, caplog):
    api = FakeApi()
    api.fail["bob"] = errors.NotFoundError(404, "Profile not found")
    result = sequence(ledger, api).execute(people("ann", "bob"))
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["bob"]["state"] == "failed" and "Profile not found" in by["bob"]["error"]
    assert any(
        "Recipient bob" in r.getMessage() and "Profile not found" in r.getMessage() for r in caplog.records
    )


def test_an_unknown_send_blocks_the_step_until_settled(ledger, clock):
    api = FakeApi()
    api.fail["ann"] = errors.DeliveryUnknownError("read timeout after sending")
    sequence(ledger, api).execute(people("ann"))
    api.fail.clear()
    blocked = sequence(ledger, api).execute(people("ann"))
    assert blocked["outcomes"][0]["state"] == "unknown" and api.sent == []
    ledger.resolve("sequence:q4:1:ann", "failed", "checked LinkedIn: not delivered")
    settled = sequence(ledger, api).execute(people("ann"))
    assert api.sent == [("ann", "Hi Ann")] and settled["outcomes"][0]["step"] == 1


def test_dry_run_shows_the_step_and_text_and_writes_nothing(ledger, clock):
    api = FakeApi()
    result = sequence(ledger, api).execute(people("ann"), dry_run=True)
    (outcome,) = result["outcomes"]
    assert outcome["status"] == "would_send" and outcome["message"] == "Hi Ann" and outcome["step"] == 1
    assert api.sent == [] and SequenceStore(ledger).enrollments("q4") == []


def test_a_crash_between_claim_and_send_is_never_sent_again_blindly(ledger, clock):
    from airflow_provider_connectsafely.ledger.records import NewSend

    api = FakeApi()
    sequence(ledger, api).execute(people("bob"))  # bob gets step 1; ann is claimed and "crashes"
    ledger.claim(NewSend("sequence:q4:1:ann", "default", "ann", "d", "t", "r", -1))
    clock.now = START + timedelta(hours=1)  # the claim is an hour old: a crashed send, not one in flight
    result = sequence(ledger, api).execute(people("ann", "bob"))
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["ann"]["state"] == "unknown" and "still pending" in by["ann"]["error"]
    assert [who for who, _text in api.sent] == ["bob"]


def test_a_run_reports_only_the_people_it_acted_on_and_counts_the_rest(ledger, clock):
    api, replies = FakeApi(), FakeReplies()
    sequence(ledger, api, replies).execute(people("ann", "bob", "cy"))
    clock.now = START + timedelta(days=1)  # nothing due: no outcome of their own, all counted
    quiet = sequence(ledger, api, replies).execute(people("ann", "bob", "cy"))
    assert quiet["outcomes"] == []
    assert quiet["summary"]["waiting"] == 3 and quiet["summary"]["total"] == 3
    replies.add("cy", START + timedelta(days=2))
    clock.now = START + timedelta(days=2, hours=1)
    replied = sequence(ledger, api, replies).execute(people("ann", "bob", "cy"))
    assert [(o["recipient"], o["status"]) for o in replied["outcomes"]] == [("cy", "replied")]
    assert replied["summary"]["waiting"] == 2 and replied["summary"]["replied"] == 1
    clock.now = START + timedelta(days=3, minutes=1)
    due = sequence(ledger, api, replies).execute(people("ann", "bob", "cy"))
    assert [(o["recipient"], o["status"], o["step"]) for o in due["outcomes"]] == [
        ("ann", "sent", 2),
        ("bob", "sent", 2),
    ]  # cy replied in an earlier run: counted, not listed
    assert due["summary"]["replied"] == 1 and due["summary"]["waiting"] == 0


def test_present_names_the_enrolled_recipients_the_caller_did_not_render(ledger, clock):
    api = FakeApi()
    sequence(ledger, api).execute(people("ann", "bob"))
    clock.now = START + timedelta(days=4)
    # The operator renders only the rows of people not enrolled yet: ann's row is "present".
    result = sequence(ledger, api, on_removed="stop").execute([], present={"ann"})
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["bob"]["state"] == "removed" and by["ann"]["status"] == "sent"
    assert ("urn:li:msg_conversation:ann", "Following up, Ann") in api.sent
    assert ("urn:li:msg_conversation:bob", "Following up, Bob") not in api.sent


def test_the_reply_listing_failing_falls_back_to_the_due_conversations(ledger, clock):
    api = FakeApi()

    class Failing(FakeReplies):
        def __init__(self) -> None:
            super().__init__()
            self.conversations: list[str] = []

        def recent(self, since, account_id):
            raise errors.ServiceUnavailableError(503, "listing down")

        def in_conversation(self, urn, since, account_id):
            self.conversations.append(urn)
            return [r for r in self.replies if r["conversationUrn"] == urn]

    replies = Failing()
    sequence(ledger, api, replies).execute(people("ann", "bob"))
    replies.add("bob", START + timedelta(days=2))
    clock.now = START + timedelta(days=3, minutes=1)
    result = sequence(ledger, api, replies).execute(people("ann", "bob"))
    assert sorted(replies.conversations) == ["urn:li:msg_conversation:ann", "urn:li:msg_conversation:bob"]
    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["bob"]["status"] == "replied" and by["ann"]["status"] == "sent"


AB_STEPS = [
    SequenceStep(variants={"a": "A for {{ recipient.first }}", "b": "B{{ recipient.tail }}"}),
    SequenceStep("Following up", wait=timedelta(days=3)),
]


def test_each_person_gets_their_variant_recorded_and_the_results_count_replies_per_variant(ledger, clock):
    from airflow_provider_connectsafely.outreach.variants import choose

    api, replies = FakeApi(), FakeReplies()
    names = [f"p{n}" for n in range(12)]
    run = sequence(ledger, api, replies, steps=AB_STEPS)
    first = run.execute(people(*names))

    chosen = {who: choose({"a": 1, "b": 1}, "q4", who, 1) for who in names}
    assert {who: text[0] for who, text in api.sent} == {who: v.upper() for who, v in chosen.items()}
    rows = ledger.get_many(f"sequence:q4:1:{who}" for who in names)
    assert {row.recipient: (row.step, row.variant) for row in rows.values()} == {
        who: (1, v) for who, v in chosen.items()
    }
    assert {o["recipient"]: o["variant"] for o in first["outcomes"]} == chosen
    a_people = [who for who in names if chosen[who] == "a"]
    replies.add(a_people[0], START + timedelta(days=1))

    clock.now = START + timedelta(days=3, minutes=1)
    second = sequence(ledger, api, replies, steps=AB_STEPS).execute(people(*names))
    sent = {v: sum(1 for c in chosen.values() if c == v) for v in ("a", "b")}
    results = {
        (r["step"], r["variant"]): (r["sent"], r["replied"]) for r in second["summary"]["variant_results"]
    }
    assert results == {(1, "a"): (sent["a"], 1), (1, "b"): (sent["b"], 0), (2, None): (len(names) - 1, 0)}


def test_a_dry_run_renders_and_validates_every_variant_of_every_step_for_every_person(ledger):
    api = FakeApi()
    rows = [{"recipient_profile_id": "ok", "first": "Ok", "tail": ""}]
    rows.append({"recipient_profile_id": "long", "first": "Lo", "tail": "x" * 8000})
    items = prepare_items(rows, lambda r: ("checked by the run", None), campaign="q4")
    result = sequence(ledger, api, steps=AB_STEPS).execute(items, dry_run=True)

    by = {o["recipient"]: o for o in result["outcomes"]}
    assert by["ok"]["status"] == "would_send" and by["ok"]["variant"] in ("a", "b")
    assert by["long"]["status"] == "failed"
    assert by["long"]["reason"].startswith("step 1, variant 'b': Invalid `message`")
    assert result["summary"]["would_send_by_account_variant"] == [
        {"account": "default", "step": 1, "variant": by["ok"]["variant"], "would_send": 1}
    ]
    assert api.sent == []


ONE_STEP = [SequenceStep(variants={"a": "A {{ recipient.first }}", "b": "B {{ recipient.first }}"})]


@pytest.mark.parametrize("window", [None, timedelta(days=14)])
def test_replies_to_the_last_step_count_only_within_a_reply_window(ledger, clock, window):
    api, replies = FakeApi(), FakeReplies()
    names = ["ann", "bob", "cy"]
    sequence(ledger, api, replies, steps=ONE_STEP, reply_window=window).execute(people(*names))
    replies.add("ann", START + timedelta(days=2))

    clock.now = START + timedelta(days=3)
    later = sequence(ledger, api, replies, steps=ONE_STEP, reply_window=window).execute(people(*names))
    replies.add("bob", START + timedelta(days=20))  # after a 14-day window
    clock.now = START + timedelta(days=21)
    last = sequence(ledger, api, replies, steps=ONE_STEP, reply_window=window).execute(people(*names))

    replied = sum(r["replied"] for r in last["summary"]["variant_results"])
    if window is None:  # finished after its only step: no reply is read
        assert later["summary"]["replied"] == 0 and replied == 0 and replies.calls == 0
    else:
        assert later["summary"]["replied"] == 1 and later["summary"]["finished"] == 2
        assert [o["recipient"] for o in later["outcomes"] if o["status"] == "replied"] == ["ann"]
        assert last["summary"]["replied"] == 1 and replied == 1  # bob replied after the window
    assert len(api.sent) == 3


def test_a_429_hold_on_the_reply_reads_pauses_the_run_before_any_step(ledger, clock):
    """Found by the soak run (tests/soak): a 429 with a far reset on the reads of replies (the
    listing, then each due conversation) failed the task with a raw RateLimitError instead
    of pausing the run as a hold on a send does (``on_limit``)."""
    from airflow_provider_connectsafely.outreach.delivery import WaitRequired

    api = FakeApi()
    sequence(ledger, api, FakeReplies()).execute(people("ann"))
    hold = START + timedelta(days=3, hours=2)

    class Held(FakeReplies):
        def recent(self, since, account_id):
            raise errors.RateLimitError(429, "Rate limit exceeded", None, hold)

        def in_conversation(self, urn, since, account_id):
            raise errors.RateLimitError(429, "Rate limit exceeded", None, hold)

    clock.now = START + timedelta(days=3, minutes=1)
    with pytest.raises(WaitRequired, match="while reading replies") as waited:
        sequence(ledger, api, Held()).execute(people("ann"))
    assert waited.value.reset_at == hold and waited.value.account is None
    assert len(api.sent) == 1  # the follow-up waits for the reads
