"""The do-not-contact list in the ledger: who it matches (profile ID, URL and URN alike, the
aliases the sends recorded), where (everywhere or one campaign), and that the claim refuses a
suppressed person on every path (a new key, a retryable failure), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.suppressions import SUPPRESSED, hashed, person_key

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(ledger):
    ledger.clock = lambda: NOW
    return ledger


def claim(store, key: str, recipient: str):
    return store.claim(NewSend(key, "default", recipient))


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("https://www.linkedin.com/in/John-Doe-1/?trk=x", "john-doe-1"),
        ("John-Doe-1", "john-doe-1"),
        (" urn:li:fsd_profile:ACoAAB1 ", "urn:li:fsd_profile:ACoAAB1"),
    ],
)
def test_a_person_is_keyed_as_the_sends_key_their_recipient(given, key):
    assert person_key(given) == key


def test_a_suppressed_person_is_never_claimed_by_id_url_or_case(store):
    assert store.suppress("https://www.linkedin.com/in/John-Doe-1/", reason="asked", source="manual") == 1

    refused = claim(store, "campaign:spring:john-doe-1", "JOHN-DOE-1")

    assert not refused.claimed and refused.token is None
    assert refused.suppressed is not None and refused.suppressed.source == "manual"
    assert refused.suppressed.describe().startswith(SUPPRESSED)
    assert store.get("campaign:spring:john-doe-1") is None  # no row: nothing claimed
    assert claim(store, "campaign:spring:someone-else", "someone-else").claimed


def test_suppressing_an_id_also_stops_the_urn_the_api_answered_for_it(store):
    first = claim(store, "campaign:spring:jane", "jane")
    store.mark_sent(
        "campaign:spring:jane", first.token, {"recipientProfileUrn": "urn:li:fsd_profile:ACoJane"}
    )

    assert store.suppress("jane") == 2  # the ID and the URN the ledger knows for it

    assert claim(store, "connect:default:urn:li:fsd_profile:ACoJane", "urn:li:fsd_profile:ACoJane").suppressed
    assert {s.person for s in store.suppressions()} == {"jane", "urn:li:fsd_profile:ACoJane"}
    assert store.unsuppress("urn:li:fsd_profile:ACoJane") == 2
    assert claim(store, "campaign:autumn:jane", "jane").claimed


def test_a_campaign_scope_holds_for_that_campaign_only(store):
    store.suppress("pat", scope="spring")
    store.suppress("sam", scope="batch:spring")

    assert claim(store, "campaign:spring:pat", "pat").suppressed
    assert claim(store, "sequence:spring:1:pat", "pat").suppressed
    assert claim(store, "campaign:autumn:pat", "pat").claimed
    assert claim(store, "adhoc-pat", "pat").claimed
    assert claim(store, "campaign:spring:sam", "sam").suppressed
    assert claim(store, "sequence:spring:1:sam", "sam").claimed


def test_a_retryable_failure_is_not_claimed_again_once_suppressed(store):
    first = claim(store, "campaign:spring:lee", "lee")
    store.mark_failed("campaign:spring:lee", first.token, "bad gateway", retryable=True)
    store.suppress("lee")

    again = claim(store, "campaign:spring:lee", "lee")

    assert not again.claimed and again.suppressed is not None
    assert again.entry is not None and again.entry.attempts == 1  # the row is left as it was


def test_an_import_checks_every_row_first_and_adds_nothing_on_a_bad_one(store):
    rows = [{"person": "ok-1"}, {"person": "https://example.com/in/x"}, {"person": "ok-2"}]

    with pytest.raises(
        ConnectSafelyValidationError, match=re.escape("row 2: 'https://example.com/in/x' is not a")
    ):
        store.suppress_many(rows)
    with pytest.raises(ConnectSafelyValidationError, match="row 1: 'crm' is not a source"):
        store.suppress_many([{"person": "ok-1", "source": "crm"}])

    assert store.suppressions() == []
    assert store.suppress_many([{"person": "ok-1", "reason": "unsubscribed"}, {"person": "OK-2"}]) == 2
    assert store.suppress_many([{"person": "ok-1"}]) == 0  # already there: kept as it was
    assert [(s.person, s.source, s.reason) for s in store.suppressions()] == [
        ("ok-1", "import", "unsubscribed"),
        ("ok-2", "import", None),
    ]


def test_a_forgotten_persons_hash_still_stops_their_claims(store):
    store.erasure_secret = b"k"
    store.suppress_many([{"person": hashed(b"k", "gone"), "source": "manual"}])

    assert claim(store, "campaign:spring:gone", "Gone").suppressed
    store.erasure_secret = b"other key"
    assert claim(store, "campaign:spring:gone", "Gone").claimed
