"""What the ledger holds about one person: show it, erase it, and age texts out.

No Airflow imports; SQLAlchemy loads when used. A person's rows are the sends to them (by
profile ID, URN, the URN the API answered for them, and the follow-ups to their conversations)
and their sequence enrolments. Forgetting keeps the rows (states, times and counts stay
right) but blanks everything personal and replaces their identifiers with a keyed hash
(:func:`~airflow_provider_connectsafely.ledger.suppressions.hashed`), under which the person
stays on the do-not-contact list everywhere: a forgotten person is never contacted again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.clock import as_utc
from airflow_provider_connectsafely.ledger import suppressions as dnc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from airflow_provider_connectsafely.ledger.store import SendLedger

#: A forgotten send's new dedupe key: ``forgotten:`` and a hash of the old one.
FORGOTTEN_PREFIX = "forgotten:"
#: The reason kept with a forgotten person's suppression.
FORGOTTEN = "forgotten on request (erasure)"
#: The trigger-state key under which the tasks note the day they last pruned.
PRUNED_KEY = "connectsafely:retention:last_prune"
_CHUNK = 900


@dataclass(frozen=True)
class Erased:
    """What ``forget`` changed.

    :param sends: send rows blanked.
    :param enrollments: enrolments blanked.
    :param suppressions: suppression rows now held under the hash.
    """

    sends: int
    enrollments: int
    suppressions: int


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` blanked.

    :param sends: send rows whose stored API answer lost its texts.
    :param replies: enrolments whose reply text was removed.
    :param contexts: ended enrolments whose template data was removed.
    """

    sends: int
    replies: int
    contexts: int


def identities(ledger: SendLedger, person: str) -> list[str]:
    """The person as given (checked) and every alias the ledger knows for them."""
    with ledger.engine.connect() as conn:
        return _identities(conn, dnc.person_key(person))


def show_person(ledger: SendLedger, person: str) -> dict[str, Any]:
    """Everything the ledger holds about one person (an access request), JSON-ready."""
    ledger.ensure_schema()
    people = identities(ledger, person)
    with ledger.engine.connect() as conn:
        sends_rows = _their_sends(conn, people)
        enrolments = _their_enrollments(conn, people)
    hashes = [dnc.hashed(ledger.erasure_secret, p) for p in people] if ledger.erasure_secret else []
    entries = [e for p in [*people, *hashes] for e in ledger.suppressions(p)]
    return {
        "person": people[0],
        "identifiers": people,
        "suppressions": [s.to_dict() for s in dict.fromkeys(entries)],
        "sends": [_row_dict(row) for row in sends_rows],
        "enrollments": [_row_dict(row) for row in enrolments],
    }


def forget(ledger: SendLedger, person: str, *, erased_by: str | None = None) -> Erased:
    """Erase one person: blank names, template data, API answers, reply texts, conversation
    ids and notes in their sends and enrolments, replace their identifiers with keyed hashes,
    keep them on the do-not-contact list everywhere under those hashes, and record the erasure
    (when, by whom; not whose). One transaction; on SQLite the file is then vacuumed so the
    old values do not linger in free pages or the journal.

    :raises ConnectSafelyConfigError: no ``[connectsafely] erasure_secret`` configured.
    """
    from sqlalchemy import delete, insert, select, update

    from airflow_provider_connectsafely.ledger.schema import enrollments, erasures, sends, suppressions

    secret = _secret(ledger)
    ledger.ensure_schema()
    now = ledger.clock()
    with ledger.engine.begin() as conn:
        dnc.lock_for_change(conn)
        people = _identities(conn, dnc.person_key(person))
        hashes = {p: dnc.hashed(secret, p) for p in people}
        main_hash = hashes[people[0]]
        rows = _their_sends(conn, people)
        for row in rows:
            new_key = FORGOTTEN_PREFIX + dnc.hashed(secret, row["dedupe_key"]).removeprefix(dnc.HASH_PREFIX)
            conn.execute(
                update(sends)
                .where(sends.c.dedupe_key == row["dedupe_key"])
                .values(
                    dedupe_key=new_key,
                    recipient=hashes.get(_key_of(row["recipient"]), main_hash),
                    recipient_urn=None,
                    response=None,
                    error=None,
                    conversation_urn=None,
                    thread_id=None,
                    message_urn=None,
                    settle_note=None,
                )
            )
        enrolled = _their_enrollments(conn, people)
        for row in enrolled:
            conn.execute(
                update(enrollments)
                .where(enrollments.c.campaign == row["campaign"], enrollments.c.recipient == row["recipient"])
                .values(
                    recipient=hashes.get(row["recipient"], main_hash),
                    state=dnc_state(row["state"]),
                    data=None,
                    conversation_urn=None,
                    reply_text=None,
                    error=None,
                    updated_at=now,
                )
            )
        held = list(
            conn.execute(select(suppressions.c.scope).where(suppressions.c.person.in_(people))).scalars()
        )
        conn.execute(delete(suppressions).where(suppressions.c.person.in_(people)))
        added = 0
        for hashed_person in dict.fromkeys(hashes.values()):
            for scope in dict.fromkeys([dnc.EVERYWHERE, *held]):
                row = {
                    "person": hashed_person,
                    "scope": scope,
                    "reason": FORGOTTEN,
                    "source": dnc.MANUAL,
                    "created_by": None,
                    "created_at": now,
                }
                if conn.execute(ledger.insert_if_absent(suppressions, row, "person")).first() is not None:
                    added += 1
        conn.execute(
            insert(erasures).values(
                erased_at=now, erased_by=erased_by, sends=len(rows), enrollments=len(enrolled)
            )
        )
    _compact(ledger)
    return Erased(sends=len(rows), enrollments=len(enrolled), suppressions=added)


def dnc_state(current: str) -> str:
    """A forgotten person's enrolment ends (if it had not)."""
    from airflow_provider_connectsafely.ledger.sequences import LIVE, SUPPRESSED

    return SUPPRESSED if current in LIVE else current


def prune(ledger: SendLedger, days: int, *, now: datetime | None = None) -> Pruned:
    """Blank texts older than ``days``: the texts in the stored API answers of sends (they can
    quote the message; identifiers stay), the reply texts of enrolments, and the template data
    of ended enrolments.
    States, times and counts stay, so the ledger page's numbers do not change."""
    from sqlalchemy import select, update

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends
    from airflow_provider_connectsafely.ledger.sequences import LIVE

    ledger.ensure_schema()
    cutoff = as_utc(now or ledger.clock()) - timedelta(days=days)
    answered = 0
    with ledger.engine.begin() as conn:
        old = select(sends.c.dedupe_key, sends.c.response).where(
            sends.c.updated_at < cutoff, sends.c.response.is_not(None)
        )
        for key, response in list(conn.execute(old)):
            kept = _identifiers_only(response)
            if kept != response:
                conn.execute(update(sends).where(sends.c.dedupe_key == key).values(response=kept))
                answered += 1
        replies = conn.execute(
            update(enrollments)
            .where(enrollments.c.replied_at < cutoff, enrollments.c.reply_text.is_not(None))
            .values(reply_text=None)
        ).rowcount
        contexts = conn.execute(
            update(enrollments)
            .where(enrollments.c.updated_at < cutoff, enrollments.c.data.is_not(None))
            .where(enrollments.c.state.not_in(LIVE))
            .values(data=None)
        ).rowcount
    return Pruned(sends=int(answered), replies=int(replies), contexts=int(contexts))


#: What ``prune`` keeps of a stored API answer: identifiers and the outcome, never text.
_KEPT_ANSWER = (
    "success",
    "recipientProfileUrn",
    "profileUrn",
    "conversationUrn",
    "threadId",
    "invitationUrn",
)


def _identifiers_only(response: str) -> str:
    """A stored API answer without its texts (a rerun still returns the ids it recorded)."""
    try:
        answer = json.loads(response)
    except ValueError:
        return json.dumps({})
    if not isinstance(answer, dict):
        return json.dumps({})
    kept = {k: answer[k] for k in _KEPT_ANSWER if k in answer}
    message = answer.get("sentMessage")
    if isinstance(message, dict) and message.get("messageUrn"):
        kept["sentMessage"] = {"messageUrn": message["messageUrn"]}
    return json.dumps(kept, sort_keys=True) if kept != answer else response


def prune_if_due(ledger: SendLedger, days: int | None) -> Pruned | None:
    """The tasks' daily prune: at most once per UTC day per ledger (the day is kept in the
    shared trigger state, so one of many workers does it); None when not due or not set."""
    if not days:
        return None
    from airflow_provider_connectsafely.ledger.trigger_state import TriggerStateStore

    store = TriggerStateStore(ledger)
    today = ledger.clock().date().isoformat()
    read = store.load(PRUNED_KEY)
    if read is not None and read.state.get("day") == today:
        return None
    if store.save(PRUNED_KEY, {"day": today}, read) is None:
        return None  # another worker took today's
    return prune(ledger, days)


def _secret(ledger: SendLedger) -> bytes:
    if not ledger.erasure_secret:
        from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

        raise ConnectSafelyConfigError(
            "Forgetting a person needs [connectsafely] erasure_secret (the key of the hashes that "
            "keep them on the do-not-contact list; it is never stored in the ledger). Fix: set it "
            "(AIRFLOW__CONNECTSAFELY__ERASURE_SECRET) to a long random "
            "value, the same on every machine, and keep it"
        )
    return ledger.erasure_secret


def _key_of(recipient: str) -> str:
    return dnc.recipient_key(recipient)


def _identities(conn: Connection, person: str) -> list[str]:
    aliases = dnc.aliases(conn, [person]).get(person, set())
    return [person, *sorted(aliases)]


def _their_sends(conn: Connection, people: list[str]) -> list[Any]:
    """The person's send rows: by recipient (ID any case, URN), by the URN the API answered,
    by the person their key names, and follow-ups in their conversations."""
    from sqlalchemy import or_, select

    from airflow_provider_connectsafely.ledger.schema import enrollments, sends

    conversations = set(
        conn.execute(
            select(sends.c.conversation_urn).where(
                _mine(sends, people), sends.c.conversation_urn.is_not(None)
            )
        ).scalars()
    )
    conversations |= set(
        conn.execute(
            select(enrollments.c.conversation_urn).where(
                enrollments.c.recipient.in_(people), enrollments.c.conversation_urn.is_not(None)
            )
        ).scalars()
    )
    wanted = [_mine(sends, people)]
    if conversations:
        wanted.append(sends.c.recipient.in_(sorted(conversations)))
        wanted.append(sends.c.conversation_urn.in_(sorted(conversations)))
    query = select(sends).where(or_(*wanted)).order_by(sends.c.created_at, sends.c.dedupe_key)
    return list(conn.execute(query).mappings())


def _mine(sends: Any, people: list[str]) -> Any:
    from sqlalchemy import func, or_

    ids = [p for p in people if not p.startswith("urn:")]
    urns = [p for p in people if p.startswith("urn:")]
    clauses = [sends.c.dedupe_key.endswith(f":{p}", autoescape=True) for p in people]
    if ids:
        clauses.append(func.lower(sends.c.recipient).in_(ids))
    if urns:
        clauses += [sends.c.recipient.in_(urns), sends.c.recipient_urn.in_(urns)]
    return or_(*clauses)


def _their_enrollments(conn: Connection, people: list[str]) -> list[Any]:
    from sqlalchemy import select

    from airflow_provider_connectsafely.ledger.schema import enrollments

    query = (
        select(enrollments)
        .where(enrollments.c.recipient.in_(people))
        .order_by(enrollments.c.enrolled_at, enrollments.c.campaign)
    )
    return list(conn.execute(query).mappings())


def _row_dict(row: Any) -> dict[str, Any]:
    """Every column of a row, JSON-ready (stored JSON parsed, times in ISO 8601)."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name == "claim_token":
            continue
        if name in ("data", "response") and value:
            value = json.loads(value)
        elif isinstance(value, datetime):
            value = as_utc(value).isoformat()
        out[name] = value
    return out


def _compact(ledger: SendLedger) -> None:
    """Rewrite the database so erased values leave no trace in free pages or the journal
    (SQLite: VACUUM and a truncating checkpoint; PostgreSQL: VACUUM of the touched tables)."""
    from airflow_provider_connectsafely.ledger.schema import enrollments, sends, suppressions

    dialect = ledger.engine.dialect.name
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif dialect == "postgresql":
            for table in (sends, enrollments, suppressions):
                conn.exec_driver_sql(f"VACUUM {table.name}")
