"""``connectsafely-ledger suppress|show-person|forget|prune``: the do-not-contact list from the
command line (one-line errors naming the bad row, nothing half-imported), an access request,
an erasure that leaves no trace of the person in the database file, and retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_provider_connectsafely.ledger import SENT, NewSend
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger

from .test_ledger import NOW, fixed, run

SECRET = "a long random test secret"


@pytest.fixture
def ledger_file(tmp_path):
    """A ledger with Jane Roe's sends (a batch, a sequence step and its follow-up in her
    conversation), her enrolment with a reply, and someone else's send."""
    path = tmp_path / "ledger.sqlite"
    store = SendLedger.sqlite(path, clock=lambda: NOW - timedelta(days=40))
    for key, recipient in (
        ("campaign:spring:jane-roe", "Jane-Roe"),
        ("sequence:onboard:1:jane-roe", "jane-roe"),
        ("sequence:onboard:2:jane-roe", "urn:li:msg_conversation:JaneConv"),
        ("campaign:spring:other-person", "other-person"),
    ):
        claim = store.claim(NewSend(key, "acct-a", recipient, "crm", "send", "manual__1", -1))
        assert claim.token is not None
        store.mark_sent(
            key,
            claim.token,
            {
                "recipientProfileUrn": "urn:li:fsd_profile:ACoJaneRoe" if "jane" in key else None,
                "conversationUrn": "urn:li:msg_conversation:JaneConv"
                if "jane" in key
                else "urn:li:msg_conversation:O",
                "sentMessage": {"text": "Dear Jane Roe, about spring" if "jane" in key else "Hi other"},
            },
        )
    sequences = SequenceStore(store)
    sequences.enroll("onboard", [("jane-roe", "acct-a", {"first_name": "Jane", "last_name": "Roe"})])
    [enrolment] = sequences.enrollments("onboard")
    sequences.advance(
        enrolment,
        sent_at=NOW - timedelta(days=40),
        conversation_urn="urn:li:msg_conversation:JaneConv",
        finished=False,
    )
    sequences.mark_replied(enrolment, NOW - timedelta(days=39), "Thanks Jane Roe here, call me at 555-0100")
    store.close()
    return path


@pytest.fixture
def url(ledger_file) -> str:
    return f"sqlite:///{ledger_file}"


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CONNECTSAFELY__ERASURE_SECRET", SECRET)
    from airflow_provider_connectsafely.ledger import locate

    locate.close_all()  # ledgers opened earlier were built without it
    yield SECRET
    locate.close_all()


def open_store(url: str, secret: str | None = None) -> SendLedger:
    return SendLedger.from_url(url, clock=fixed, erasure_secret=secret)


def test_suppress_add_list_and_remove(capsys, url):
    code, out, err = run(
        capsys,
        "suppress",
        "add",
        "https://www.linkedin.com/in/Jane-Roe/",
        "--url",
        url,
        "--reason",
        "asked",
        "--by",
        "ops",
    )
    assert (code, err) == (0, "")
    assert "'jane-roe' is on the do-not-contact list (everywhere)" in out
    code, out, _ = run(capsys, "suppress", "list", "--url", url, "--format", "json")
    listed = json.loads(out)
    # Her URN, known from the API's answer, is suppressed with her ID.
    assert {(e["person"], e["scope"], e["source"], e["created_by"]) for e in listed} == {
        ("jane-roe", "everywhere", "manual", "ops"),
        ("urn:li:fsd_profile:ACoJaneRoe", "everywhere", "manual", "ops"),
    }
    store = open_store(url)
    assert store.claim(NewSend("campaign:autumn:jane-roe", "acct-a", "jane-roe")).suppressed is not None
    store.close()
    code, out, _ = run(capsys, "suppress", "remove", "jane-roe", "--url", url)
    assert code == 0 and "2 row(s)" in out
    code, _, err = run(capsys, "suppress", "remove", "jane-roe", "--url", url)
    assert (
        code == 2
        and err.strip()
        == "connectsafely-ledger: 'jane-roe' is not on the do-not-contact list; nothing changed"
    )


def test_suppress_add_refuses_a_malformed_person_in_one_line(capsys, url):
    code, out, err = run(capsys, "suppress", "add", "https://example.com/jane", "--url", url)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "'https://example.com/jane' is not a LinkedIn profile URL" in err and "nothing changed" in err


def test_suppress_import_adds_every_row_or_none(capsys, url, tmp_path):
    good = tmp_path / "unsubscribes.csv"
    good.write_text(
        "email,profile_url,campaign,reason\na@x,https://www.linkedin.com/in/ann/,,unsubscribed\n\nb@x,bob,spring,\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("person,reason\ncarl,x\nnot a profile,y\ndora,z\n", encoding="utf-8")
    no_column = tmp_path / "nocol.csv"
    no_column.write_text("email\na@x\n", encoding="utf-8")

    code, _, err = run(capsys, "suppress", "import", str(bad), "--url", url, "--by", "ops")
    assert code == 2
    assert err.strip().startswith(f"connectsafely-ledger: {bad} line 3: 'not a profile' is not a profile ID")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "suppress", "import", str(no_column), "--url", url, "--by", "ops")
    assert code == 2 and "no person column in the header (found email)" in err
    _, out, _ = run(capsys, "suppress", "list", "--url", url, "--format", "json")
    assert json.loads(out) == []  # nothing half-imported

    code, out, _ = run(capsys, "suppress", "import", str(good), "--url", url, "--by", "ops")
    assert code == 0 and "imported 2 row(s)" in out
    _, out, _ = run(capsys, "suppress", "list", "--url", url, "--format", "json")
    assert {(e["person"], e["scope"], e["source"], e["reason"]) for e in json.loads(out)} == {
        ("ann", "everywhere", "import", "unsubscribed"),
        ("bob", "spring", "import", None),
    }


def test_show_person_lists_everything_held_about_them(capsys, url):
    code, out, _ = run(capsys, "show-person", "Jane-Roe", "--url", url, "--json")
    held = json.loads(out)
    assert code == 0
    assert held["identifiers"] == ["jane-roe", "urn:li:fsd_profile:ACoJaneRoe"]
    assert sorted(s["dedupe_key"] for s in held["sends"]) == [
        "campaign:spring:jane-roe",
        "sequence:onboard:1:jane-roe",
        "sequence:onboard:2:jane-roe",
    ]
    [enrolment] = held["enrollments"]
    assert enrolment["data"] == {"first_name": "Jane", "last_name": "Roe"}
    assert enrolment["reply_text"].startswith("Thanks Jane Roe")


def test_forget_needs_the_secret(capsys, url, monkeypatch):
    monkeypatch.delenv("AIRFLOW__CONNECTSAFELY__ERASURE_SECRET", raising=False)
    code, _, err = run(capsys, "forget", "jane-roe", "--url", url, "--by", "dpo")
    assert code == 2 and "[connectsafely] erasure_secret" in err and "nothing changed" in err


def test_forget_leaves_no_trace_in_the_file_and_keeps_them_uncontactable(capsys, url, ledger_file, secret):
    code, out, err = run(
        capsys, "forget", "https://www.linkedin.com/in/jane-roe", "--url", url, "--by", "dpo"
    )
    assert (code, err) == (0, "")
    assert "3 send(s) and 1 enrolment(s) blanked" in out

    raw = b"".join(p.read_bytes() for p in ledger_file.parent.glob("ledger.sqlite*")).lower()
    for trace in (b"jane", b"roe", b"555-0100", b"janeconv", b"acojaneroe", b"dear"):
        assert trace not in raw, trace
    assert b"other-person" in raw  # the others are untouched

    store = open_store(url, secret)
    try:
        # Never contacted again, under any identifier, in any campaign; the counts stay.
        assert store.claim(NewSend("campaign:spring:jane-roe", "acct-a", "Jane-Roe")).suppressed
        assert store.claim(
            NewSend("connect:acct-a:urn:li:fsd_profile:ACoJaneRoe", "acct-a", "urn:li:fsd_profile:ACoJaneRoe")
        ).suppressed
        from airflow_provider_connectsafely.ledger import queries

        assert sum(c.states["sent"] for c in queries.campaign_stats(store, queries.Filters())) == 4
        with store.engine.connect() as conn:
            from sqlalchemy import text

            erasures = conn.execute(
                text("SELECT erased_by, sends, enrollments FROM connectsafely_erasures")
            ).all()
        assert [tuple(e) for e in erasures] == [("dpo", 3, 1)]
    finally:
        store.close()
    code, out, _ = run(capsys, "show-person", "jane-roe", "--url", url)
    held = json.loads(out)
    assert held["sends"] == [] and held["enrollments"] == []
    assert [s["reason"] for s in held["suppressions"]] == ["forgotten on request (erasure)"]
    _, exported, _ = run(capsys, "export", "--url", url)
    assert "jane" not in exported.lower() and "roe" not in exported.lower()


def test_prune_blanks_old_texts_and_keeps_the_numbers(capsys, url):
    from airflow_provider_connectsafely.ledger import queries

    store = open_store(url)
    before = queries.campaign_stats(store, queries.Filters())
    store.close()
    code, _, err = run(capsys, "prune", "--url", url)
    assert code == 2 and "give --days N" in err

    code, out, _ = run(capsys, "prune", "--url", url, "--days", "30")

    assert code == 0 and "4 stored API answer(s), 1 reply text(s), 1 ended enrolment(s)'" in out
    store = open_store(url)
    try:
        assert queries.campaign_stats(store, queries.Filters()) == before
        entry = store.get("campaign:spring:jane-roe")
        assert entry is not None and entry.state == SENT
        assert entry.response == {
            "conversationUrn": "urn:li:msg_conversation:JaneConv",
            "recipientProfileUrn": "urn:li:fsd_profile:ACoJaneRoe",
        }
        [enrolment] = SequenceStore(store).enrollments("onboard")
        assert enrolment.reply_text is None and enrolment.replied_at is not None
        assert enrolment.data == {}  # it ended (replied); a live one keeps it for its next steps
    finally:
        store.close()
    _, out, _ = run(capsys, "prune", "--url", url, "--days", "60")
    assert "0 stored API answer(s)" in out
