"""The do-not-contact list: who must not be contacted, everywhere or in one campaign.

No Airflow imports; SQLAlchemy loads when a list is used. Every claim of a send checks this
list in the statement that claims it (:meth:`SendLedger.claim`), so a suppression stops every
send path from the moment it commits. On PostgreSQL, claims hold a shared advisory lock and
adding a suppression an exclusive one: a claim either committed before the suppression did, or
sees it.

A person is keyed as the sends key their recipient: a profile ID in lower case (a profile URL
reduced to its ID) or a URN. When the ledger has seen a person's ID and URN together (the API
answers a send with the URN), suppressing one also suppresses the other. Once a person is
forgotten, only ``hmac:<hex>`` of their identifiers remains (a keyed hash, the key never in
the ledger), and claims compare against that too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from airflow_provider_connectsafely.clock import as_utc
from airflow_provider_connectsafely.ledger.records import campaign_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from airflow_provider_connectsafely.ledger.store import SendLedger

#: Where a suppression came from.
Source = Literal["manual", "import", "reply", "api"]
MANUAL, IMPORT, REPLY, API = get_args(Source)
SOURCES: tuple[Source, ...] = get_args(Source)
#: The scope of a suppression that holds for every campaign and every send.
EVERYWHERE = ""
#: Why a suppressed send was not sent: an outcome's reason starts with it.
SUPPRESSED = "suppressed"
HASH_PREFIX = "hmac:"
# One fixed key ("CSnoCont") for the claims' shared and the suppressions' exclusive lock.
PG_LOCK_KEY = 0x43536E6F436F6E74
_MAX_REASON = 2000
_MAX_BY = 256
_CHUNK = 900
_PERSON_KEYS = ("campaign", "sequence", "connect")


@dataclass(frozen=True)
class Suppression:
    """One entry of the do-not-contact list.

    :param person: the person as the sends key them, or ``hmac:<hex>`` once forgotten.
    :param scope: ``''`` (everywhere) or the campaign it holds for (``spring`` matches every
        kind of campaign of that name, ``batch:spring`` only the batch).
    :param reason: why (a note, or the first line of an opt-out reply).
    :param source: one of :data:`SOURCES`.
    :param created_by: who added it.
    :param created_at: when it was added.
    """

    person: str
    scope: str
    reason: str | None
    source: str
    created_by: str | None
    created_at: datetime

    @property
    def everywhere(self) -> bool:
        return self.scope == EVERYWHERE

    def describe(self) -> str:
        """For an outcome's reason: never the note (it may quote the person)."""
        where = "everywhere" if self.everywhere else f"for campaign {self.scope!r}"
        since = f"{self.created_at:%Y-%m-%d}"
        return f"{SUPPRESSED}: on the do-not-contact list {where} since {since} ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "scope": self.scope or "everywhere",
            "reason": self.reason,
            "source": self.source,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


def person_key(value: str) -> str:
    """A person as given by a user (profile ID, profile URL or URN) as the sends key them.

    :raises ConnectSafelyValidationError: naming what is wrong with it.
    """
    from airflow_provider_connectsafely.api.models import check_urn, normalize_profile_id

    text = str(value or "").strip()
    if text.startswith(HASH_PREFIX):
        return text
    if text.startswith("urn:"):
        check_urn("person", text)
        return text
    return normalize_profile_id(text).lower()


def recipient_key(recipient: str) -> str:
    """A send's recipient (a checked profile ID or URN) as suppressions key it."""
    return recipient if recipient.startswith("urn:") else recipient.lower()


def hashed(secret: bytes, person: str) -> str:
    """The keyed hash that stands for a forgotten person."""
    return HASH_PREFIX + hmac.new(secret, person.encode("utf-8"), hashlib.sha256).hexdigest()


def key_person(dedupe_key: str) -> str | None:
    """The person at the end of a key the provider makes (``campaign:<c>:<person>``,
    ``sequence:<c>:<step>:<person>``, ``connect:<account>:<person>``); None for other keys.
    A follow-up's recipient is its conversation: the key still names the person."""
    prefix, sep, rest = dedupe_key.partition(":")
    if not sep or prefix not in _PERSON_KEYS:
        return None
    urn = rest.find(":urn:")
    tail = rest[urn + 1 :] if urn >= 0 else rest.rpartition(":")[2]
    return recipient_key(tail) if tail else None


def claim_persons(recipient: str, secret: bytes | None, dedupe_key: str = "") -> list[str]:
    """What a claim for ``recipient`` under ``dedupe_key`` compares against: the person (as
    given, and as the key names them), and their hashes."""
    people = list(dict.fromkeys(p for p in (recipient_key(recipient), key_person(dedupe_key)) if p))
    return [*people, *(hashed(secret, p) for p in people)] if secret else people


def claim_scopes(dedupe_key: str) -> list[str]:
    """The scopes that hold for a send with this key: everywhere, and its campaign by name
    and by kind and name."""
    parsed = campaign_of(dedupe_key)
    if parsed is None:
        return [EVERYWHERE]
    return [EVERYWHERE, parsed[1], f"{parsed[0]}:{parsed[1]}"]


def blocking(persons: list[str], scopes: list[str]) -> Any:
    """``EXISTS`` a suppression for one of ``persons`` in one of ``scopes``."""
    from sqlalchemy import exists

    from airflow_provider_connectsafely.ledger.schema import suppressions as table

    return exists().where(table.c.person.in_(persons), table.c.scope.in_(scopes))


def lock_for_claim(conn: Connection) -> None:
    """Before a claim's statement, in its transaction: wait for a suppression being added."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": PG_LOCK_KEY})


def lock_for_change(conn: Connection) -> None:
    """Before adding suppressions: wait for the claims in progress to commit (PostgreSQL; on
    SQLite the database's write lock orders them)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def check_entry(
    person: str, scope: str | None, source: str, reason: str | None, where: str = ""
) -> tuple[str, str, str, str | None]:
    """One suppression's fields, checked and normalised.

    :param where: what to name in the error (``row 3``), for imports.
    :raises ConnectSafelyValidationError: naming the field and the fix.
    """
    from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

    prefix = f"{where}: " if where else ""
    if source not in SOURCES:
        raise ConnectSafelyValidationError(
            "source", f"{prefix}{source!r} is not a source", f"use one of {', '.join(SOURCES)}"
        )
    if not str(person or "").strip():
        raise ConnectSafelyValidationError(
            "person", f"{prefix}no person given", "give a profile ID, profile URL or URN"
        )
    try:
        key = person_key(person)
    except ConnectSafelyValidationError as exc:
        raise ConnectSafelyValidationError("person", f"{prefix}{exc.problem}", exc.fix) from None
    scope_text = str(scope or "").strip()
    if scope_text.lower() in ("everywhere", "*", "all"):
        scope_text = EVERYWHERE
    note = " ".join(str(reason).split())[:_MAX_REASON] if reason else None
    return key, scope_text, source, note or None


class SuppressionList:
    """The do-not-contact list in a ledger's database (``SendLedger.suppress`` and friends use
    it).

    :param ledger: the send ledger (its engine, clock and the erasure secret).
    """

    def __init__(self, ledger: SendLedger) -> None:
        self.ledger = ledger

    def add(
        self,
        entries: Iterable[tuple[str, str | None, str, str | None]],
        *,
        created_by: str | None = None,
    ) -> int:
        """Add checked ``(person, scope, source, reason)`` entries in one transaction, with the
        aliases the ledger knows (a person's URN for their ID, and back); an entry already on
        the list is kept as it is. Returns how many rows were added."""
        from airflow_provider_connectsafely.ledger.schema import suppressions as table

        wanted = list(entries)
        if not wanted:
            return 0
        self.ledger.ensure_schema()
        now = self.ledger.clock()
        by = created_by[:_MAX_BY] if created_by else None
        added = 0
        with self.ledger.engine.begin() as conn:
            lock_for_change(conn)
            known = aliases(conn, [person for person, *_ in wanted])
            for person, scope, source, reason in wanted:
                for who in [person, *sorted(known.get(person, ()))]:
                    row = {
                        "person": who,
                        "scope": scope or EVERYWHERE,
                        "reason": reason,
                        "source": source,
                        "created_by": by,
                        "created_at": now,
                    }
                    if conn.execute(self.ledger.insert_if_absent(table, row, "person")).first() is not None:
                        added += 1
        return added

    def remove(self, person: str, scope: str | None = None) -> int:
        """Take a person off the list (in ``scope``; every scope when None), with the aliases
        the ledger knows. Returns how many rows went."""
        from sqlalchemy import delete

        from airflow_provider_connectsafely.ledger.schema import suppressions as table

        self.ledger.ensure_schema()
        with self.ledger.engine.begin() as conn:
            people = [person, *aliases(conn, [person]).get(person, ())]
            people += (
                [hashed(self.ledger.erasure_secret, p) for p in list(people)]
                if self.ledger.erasure_secret
                else []
            )
            query = delete(table).where(table.c.person.in_(people))
            if scope is not None:
                query = query.where(table.c.scope == (scope or EVERYWHERE))
            return int(conn.execute(query).rowcount)

    def entries(self, person: str | None = None, *, scope: str | None = None) -> list[Suppression]:
        """The list, newest first; one person's entries (and their hashed ones) when given."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import suppressions as table

        self.ledger.ensure_schema()
        query = select(table).order_by(table.c.created_at.desc(), table.c.person, table.c.scope)
        if person is not None:
            query = query.where(table.c.person.in_(self._variants(person)))
        if scope is not None:
            query = query.where(table.c.scope == scope)
        with self.ledger.engine.connect() as conn:
            return [_suppression(row) for row in conn.execute(query).mappings()]

    def for_send(self, recipient: str, dedupe_key: str) -> Suppression | None:
        """The suppression that stops a send to ``recipient`` under ``dedupe_key``, if any."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import suppressions as table

        query = (
            select(table)
            .where(table.c.person.in_(claim_persons(recipient, self.ledger.erasure_secret, dedupe_key)))
            .where(table.c.scope.in_(claim_scopes(dedupe_key)))
            .order_by(table.c.scope, table.c.created_at)
        )
        with self.ledger.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _suppression(row) if row is not None else None

    def suppressed_among(self, recipients: Iterable[str], dedupe_scope_key: str) -> set[str]:
        """Which of ``recipients`` (as the sends key them) a send under a key like
        ``dedupe_scope_key`` would skip: for dry runs, in chunked queries."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import suppressions as table

        self.ledger.ensure_schema()
        secret = self.ledger.erasure_secret
        by_key: dict[str, str] = {}
        for recipient in recipients:
            for variant in claim_persons(recipient, secret):
                by_key[variant] = recipient
        keys = list(by_key)
        found: set[str] = set()
        with self.ledger.engine.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                query = (
                    select(table.c.person)
                    .where(table.c.person.in_(keys[start : start + _CHUNK]))
                    .where(table.c.scope.in_(claim_scopes(dedupe_scope_key)))
                )
                found.update(by_key[p] for p in conn.execute(query).scalars())
        return found

    def _variants(self, person: str) -> list[str]:
        secret = self.ledger.erasure_secret
        return [person, hashed(secret, person)] if secret and not person.startswith(HASH_PREFIX) else [person]


def aliases(conn: Connection, people: list[str]) -> dict[str, set[str]]:
    """For each person, the other identifier the sends recorded for them: the URN the API
    answered for a profile ID, the profile ID a URN was answered for."""
    from sqlalchemy import func, select

    from airflow_provider_connectsafely.ledger.schema import sends

    found: dict[str, set[str]] = {}
    ids = [p for p in people if not p.startswith(("urn:", HASH_PREFIX))]
    urns = [p for p in people if p.startswith("urn:")]
    recipient = func.lower(sends.c.recipient)
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(recipient, sends.c.recipient_urn)
            .where(recipient.in_(ids[start : start + _CHUNK]), sends.c.recipient_urn.is_not(None))
            .distinct()
        )
        for who, urn in conn.execute(query):
            found.setdefault(who, set()).add(urn)
    for start in range(0, len(urns), _CHUNK):
        query = (
            select(sends.c.recipient_urn, recipient)
            .where(sends.c.recipient_urn.in_(urns[start : start + _CHUNK]))
            .where(~sends.c.recipient.like("urn:%"))
            .distinct()
        )
        for urn, who in conn.execute(query):
            found.setdefault(urn, set()).add(who)
    return found


def _suppression(row: Any) -> Suppression:
    return Suppression(
        person=row["person"],
        scope=row["scope"],
        reason=row["reason"],
        source=row["source"],
        created_by=row["created_by"],
        created_at=as_utc(row["created_at"]),
    )
