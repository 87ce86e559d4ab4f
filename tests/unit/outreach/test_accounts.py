"""Several accounts per campaign: assignment, stickiness, per-account caps and warm-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.ledger import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.accounts import AccountPool, Warmup

NOW = datetime(2030, 5, 14, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def ledger(tmp_path):
    store = SendLedger.sqlite(tmp_path / "ledger.sqlite", clock=lambda: NOW)
    yield store
    store.close()


def sent(ledger: SendLedger, key: str, account: str, recipient: str, when: datetime = NOW) -> None:
    ledger.clock = lambda: when
    claim = ledger.claim(NewSend(key, account, recipient))
    ledger.mark_sent(key, claim.token, {})
    ledger.clock = lambda: NOW


@pytest.mark.parametrize(
    ("day", "cap"),
    [(0, 10), (1, 15), (7, 50), (13, 84), (14, 90), (400, 90)],
)
def test_warmup_ramps_evenly_to_the_full_cap(day, cap):
    assert Warmup(start=10, days=14).cap(90, day) == cap


def test_warmup_is_checked_and_read_from_a_dict():
    assert Warmup.of({"start": 5, "days": 3}) == Warmup(5, 3)
    assert Warmup.of(None) is None
    for bad in ({"start": 0, "days": 3}, {"begin": 5}, [5, 3]):
        with pytest.raises(ConnectSafelyValidationError, match="warmup"):
            Warmup.of(bad)


def test_new_recipients_go_to_the_account_with_most_room(ledger):
    sent(ledger, "x1", "a", "old-1")
    sent(ledger, "x2", "a", "old-2")
    sent(ledger, "x3", "b", "old-3")
    pool = AccountPool(["a", "b", "c"], ledger, daily_limit=3)
    assert (pool.used, pool.room("a"), pool.room("c")) == ({"a": 2, "b": 1, "c": 0}, 1, 3)

    picked = []
    for person in ("p1", "p2", "p3", "p4", "p5", "p6"):
        account = pool.pick(person)
        picked.append(account)
        if account is not None:
            pool.bind(person, account)
            pool.count(account)
    assert picked == ["c", "b", "c", "a", "b", "c"]
    assert pool.pick("p7") is None  # every account is full
    assert pool.sticky("p1") == "c"


def test_a_recipient_stays_with_the_account_that_contacted_them_first(ledger):
    sent(ledger, "campaign:spring:ann", "b", "ann", NOW - timedelta(days=9))
    sent(ledger, "connect:a:ann", "a", "ann", NOW - timedelta(days=2))
    sent(ledger, "campaign:spring:Bob", "z", "Bob")  # an account outside the pool
    pool = AccountPool(["a", "b"], ledger, daily_limit=5)
    pool.remember(["ann", "Bob", "cy"])

    assert pool.sticky("ann") == "b"
    assert pool.sticky("Bob") is None and pool.sticky("cy") is None
    pool.full("b")
    assert pool.pick("ann") is None  # waits for b rather than moving to a
    assert pool.pick("cy") == "a"


def test_an_account_out_of_rotation_gets_no_one(ledger):
    pool = AccountPool(["a", "b"], ledger, daily_limit=None)
    assert pool.room("a") == float("inf")
    pool.retire_unavailable(
        {"accounts": [{"id": "a", "status": "ERROR"}, {"id": "b", "status": "AVAILABLE"}]}
    )
    assert pool.active == ["b"] and pool.pick("p") == "b"
    pool.retire("b", "HTTP 403: trial expired")
    assert pool.pick("p2") is None
    assert "a: out of rotation (the API reports its status as ERROR)" in pool.describe()


def test_an_account_the_key_does_not_list_is_retired(ledger):
    pool = AccountPool(["a", "b"], ledger, daily_limit=5)
    pool.retire_unavailable({"accounts": [{"id": "a", "status": "active"}]})
    assert pool.active == ["a"]
    assert pool.retired["b"] == "not among the API key's LinkedIn accounts"


def test_warmup_counts_days_from_the_accounts_first_send(ledger):
    sent(ledger, "old", "veteran", "p", NOW - timedelta(days=30))
    sent(ledger, "new", "newcomer", "q", NOW - timedelta(days=2))
    pool = AccountPool(["veteran", "newcomer", "unused"], ledger, daily_limit=90, warmup=Warmup(10, 10))
    assert pool.limits == {"veteran": 90, "newcomer": 26, "unused": 10}


@pytest.mark.parametrize("accounts", [[], ["a", "a"], ["a", ""], "a"])
def test_account_ids_are_checked(ledger, accounts):
    with pytest.raises(ConnectSafelyValidationError, match="account_ids"):
        AccountPool(accounts, ledger, daily_limit=5)


# -- the batch loop over several accounts (a fake API, a real SQLite ledger) -------------


class FakeApi:
    """Records (account, recipient); accounts in ``refusing`` answer 403."""

    def __init__(self, refusing: tuple[str, ...] = ()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refusing = refusing

    def __call__(self, request) -> dict:
        from airflow_provider_connectsafely.errors import PermissionDeniedError

        if request.account_id in self.refusing:
            raise PermissionDeniedError(403, "trial expired")
        self.sent.append((request.account_id, request.recipient))
        return {"success": True}


def batch_of(ledger, api, pool):
    from airflow_provider_connectsafely.outreach.batch import BatchRun
    from airflow_provider_connectsafely.outreach.delivery import GuardedSender

    sender = GuardedSender(api, ledger, daily_limit=None, limit_for=pool.limits.get)
    return BatchRun(sender=sender, accounts=pool)


def people(*names: str):
    from airflow_provider_connectsafely.outreach.batch import prepare_items

    rows = [{"recipient_profile_id": n} for n in names]
    return prepare_items(rows, lambda row: ("Hi", None), campaign="spring")


def test_a_batch_spreads_over_the_accounts_and_waits_when_all_are_full(ledger):
    from airflow_provider_connectsafely.outreach.delivery import WaitRequired

    sent(ledger, "campaign:autumn:ann", "b", "ann", NOW - timedelta(days=40))  # ann belongs to b
    api = FakeApi()
    pool = AccountPool(["a", "b"], ledger, daily_limit=2)
    items = people("ann", "bo", "cy", "di", "ed")

    with pytest.raises(WaitRequired) as wait:
        batch_of(ledger, api, pool).send_all(items, {})

    assert api.sent == [("b", "ann"), ("a", "bo"), ("a", "cy"), ("b", "di")]
    assert wait.value.reset_at == datetime(2030, 5, 15, tzinfo=timezone.utc)
    assert "1 recipient(s) wait for their LinkedIn account's daily cap" in wait.value.reason
    assert {e.account for e in ledger.get_many(i.key for i in items).values()} == {"a", "b"}

    # The next day the batch goes on; nobody gets a second message.
    ledger.clock = lambda: NOW + timedelta(days=1)
    done = batch_of(ledger, api, AccountPool(["a", "b"], ledger, daily_limit=2)).send_all(items, {})
    assert api.sent[4:] == [("a", "ed")]
    assert [o.status for o in done].count("sent") == 1


@pytest.mark.parametrize("order", [("bo", "ann", "cy"), ("ann", "bo", "cy")], ids=["new first", "ann first"])
def test_an_account_that_refuses_leaves_the_rotation_and_the_others_go_on(ledger, order):
    sent(ledger, "campaign:autumn:ann", "a", "ann", NOW - timedelta(days=3))  # ann belongs to a
    api = FakeApi(refusing=("a",))
    pool = AccountPool(["a", "b"], ledger, daily_limit=None)
    batch = batch_of(ledger, api, pool)

    done = {o.recipient: o for o in batch.send_all(people(*order), {})}

    assert api.sent == [("b", "bo"), ("b", "cy")]
    assert {who: o.status for who, o in done.items()} == {"bo": "sent", "ann": "not_attempted", "cy": "sent"}
    assert done["ann"].reason == (
        "its account a (which contacted them first) is out of rotation: "
        "PermissionDeniedError: ConnectSafely API answered 403: trial expired"
    )
    assert pool.retired == {"a": "PermissionDeniedError: ConnectSafely API answered 403: trial expired"}
    assert batch.stop_reason(list(done.values())) is None
    assert ledger.get("campaign:spring:bo").account == "b"
    ann = ledger.get("campaign:spring:ann")  # refused on her account: not delivered, sent next run
    assert (ann is not None and ann.may_send_again) if order[0] == "ann" else ann is None


def test_when_every_account_refuses_the_batch_stops(ledger):
    api = FakeApi(refusing=("a", "b"))
    batch = batch_of(ledger, api, AccountPool(["a", "b"], ledger, daily_limit=None))
    done = batch.send_all(people("bo", "cy"), {})
    assert [o.status for o in done] == ["failed", "not_attempted"]
    assert api.sent == []
    assert batch.stop_reason(done) == (
        "every LinkedIn account is out of rotation (a: out of rotation (PermissionDeniedError: "
        "ConnectSafely API answered 403: trial expired); b: out of rotation (PermissionDeniedError: "
        "ConnectSafely API answered 403: trial expired))"
    )


def test_the_accounts_status_is_recorded_for_the_page_and_cleared_when_available(ledger):
    from airflow_provider_connectsafely.ledger import account_status

    pool = AccountPool(["a", "b"], ledger, daily_limit=5)
    pool.retire_unavailable(
        {"accounts": [{"id": "a", "status": "ERROR"}, {"id": "b", "status": "AVAILABLE"}]}
    )
    assert {k: v[0] for k, v in account_status.unavailable(ledger).items()} == {
        "a": "the API reports its status as ERROR"
    }
    again = AccountPool(["a", "b"], ledger, daily_limit=5)
    again.retire_unavailable(
        {"accounts": [{"id": "a", "status": "AVAILABLE"}, {"id": "b", "status": "AVAILABLE"}]}
    )
    assert account_status.unavailable(ledger) == {}
