"""A ledger with known A/B counts, for the tests of the results per step and variant."""

from __future__ import annotations

from airflow_provider_connectsafely.ledger import NewSend
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger

#: (step, variant, sent, replied) of sequence "q4" after :func:`fill`.
SEQUENCE_COUNTS = [(1, "a", 10, 3), (1, "b", 8, 1), (2, None, 5, 2)]
#: (step, variant, sent, replied) of batch "spring" after :func:`fill`.
BATCH_COUNTS = [(None, "a", 4, None), (None, "b", 2, None)]


def _sent(ledger: SendLedger, key: str, who: str, *, step: int | None, variant: str | None) -> None:
    claim = ledger.claim(NewSend(key, "acct", who, step=step, variant=variant))
    assert claim.token is not None
    ledger.mark_sent(key, claim.token, {"success": True})


def fill(ledger: SendLedger) -> None:
    """Sequence ``q4``: 18 people get step 1 (p0-p9 variant a, p10-p17 b); p0-p2 and p10
    reply to it; p3-p7 get step 2 (no variants) and p3, p4 reply to that. A failed send of
    variant a counts nowhere. Batch ``spring``: 4 sent with a, 2 with b, 1 failed with b."""
    store = SequenceStore(ledger)
    people = [f"p{n}" for n in range(18)]
    store.enroll("q4", [(who, "acct", {}) for who in people])
    enrolled = store.get_many("q4", people)
    for n, who in enumerate(people):
        _sent(ledger, f"sequence:q4:1:{who}", who, step=1, variant="a" if n < 10 else "b")
        store.advance(enrolled[who], sent_at=ledger.clock(), conversation_urn=None, finished=False)
    for who in ("p3", "p4", "p5", "p6", "p7"):
        _sent(ledger, f"sequence:q4:2:{who}", who, step=2, variant=None)
        store.advance(enrolled[who], sent_at=ledger.clock(), conversation_urn=None, finished=True)
    for who in ("p0", "p1", "p2", "p10", "p3", "p4"):
        store.mark_replied(enrolled[who], ledger.clock(), "Interested")
    failed = ledger.claim(NewSend("sequence:q4:1:p99", "acct", "p99", step=1, variant="a"))
    assert failed.token is not None
    ledger.mark_failed("sequence:q4:1:p99", failed.token, "no", retryable=False)
    for n in range(6):
        _sent(ledger, f"campaign:spring:s{n}", f"s{n}", step=None, variant="a" if n < 4 else "b")
    lost = ledger.claim(NewSend("campaign:spring:s9", "acct", "s9", variant="b"))
    assert lost.token is not None
    ledger.mark_failed("campaign:spring:s9", lost.token, "no", retryable=False)
