"""Forgetting a person on SQLite and PostgreSQL: after it, a dump of the whole database (the
file and its journal; pg_dump) holds neither their name nor their messages, and their sends
are still refused."""

from __future__ import annotations

import glob
import subprocess
from datetime import datetime, timezone

from sqlalchemy.engine import make_url

from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.sequences import SequenceStore

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=timezone.utc)
TRACES = (b"zoe-quill", b"zoe quill", b"acozoe", b"zoeconv", b"call me maybe")


def dump(ledger) -> bytes:
    url = ledger.engine.url
    if url.get_backend_name() == "sqlite":
        return b"".join(open(p, "rb").read() for p in glob.glob(f"{url.database}*"))
    [pg_dump] = glob.glob("/usr/lib/postgresql/*/bin/pg_dump")[-1:]
    plain = make_url(url).set(drivername="postgresql")
    return subprocess.run(
        [pg_dump, "--data-only", plain.render_as_string(hide_password=False)], check=True, capture_output=True
    ).stdout


def test_after_forget_no_dump_holds_the_person(ledger):
    ledger.clock = lambda: NOW
    ledger.erasure_secret = b"test secret"
    claim = ledger.claim(NewSend("campaign:spring:zoe-quill", "a", "Zoe-Quill"))
    ledger.mark_sent(
        "campaign:spring:zoe-quill",
        claim.token,
        {
            "recipientProfileUrn": "urn:li:fsd_profile:ACoZoe",
            "conversationUrn": "urn:li:msg_conversation:ZoeConv",
        },
    )
    store = SequenceStore(ledger)
    store.enroll("onboard", [("zoe-quill", "a", {"name": "Zoe Quill"})])
    [enrolment] = store.enrollments("onboard")
    store.mark_replied(enrolment, NOW, "call me maybe")
    ledger.suppress("zoe-quill", scope="spring", reason="Zoe Quill asked")
    assert all(trace in dump(ledger).lower() for trace in TRACES)

    erased = ledger.forget("https://www.linkedin.com/in/Zoe-Quill/", erased_by="dpo")

    assert (erased.sends, erased.enrollments) == (1, 1)
    raw = dump(ledger).lower()
    assert not [trace for trace in TRACES if trace in raw]
    assert ledger.claim(NewSend("campaign:autumn:zoe-quill", "a", "zoe-quill")).suppressed is not None
    assert ledger.claim(
        NewSend("connect:a:urn:li:fsd_profile:ACoZoe", "a", "urn:li:fsd_profile:ACoZoe")
    ).suppressed
    assert store.enrollments("onboard")[0].state == "replied"
