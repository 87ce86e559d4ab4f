"""The ledger's storage: SQLAlchemy Core on SQLite or PostgreSQL. No Airflow imports here.

Claiming a key is one atomic statement: an insert that the primary key lets only one writer
win, or a compare-and-set update from a state that allows a new attempt. Whoever wins holds
a claim token and is the only one allowed to record the outcome.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.clock import Clock, as_utc, utc_now
from airflow_provider_connectsafely.ledger.records import (
    FAILED,
    MESSAGE,
    PENDING,
    SENT,
    UNKNOWN,
    Claim,
    LedgerEntry,
    NewSend,
    campaign_label,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airflow_provider_connectsafely.ledger.privacy import Erased, Pruned
    from airflow_provider_connectsafely.ledger.suppressions import Suppression

# Bound parameters per IN (...) query; SQLite allows 32,766 since 3.32, PostgreSQL 65,535.
_CHUNK = 900
_MAX_ERROR = 2000
_SQLITE_BUSY_SECONDS = 30
_MAX_SETTLED_BY = 256  # the column's length
# What a new attempt clears, as it clears the error: the last attempt's conversation and settlement.
_PER_ATTEMPT = dict.fromkeys(
    ("conversation_urn", "thread_id", "message_urn", "settled_by", "settled_at", "settle_note")
)


class SendLedger:
    """A durable table of sends keyed by dedupe key.

    :param engine: a SQLAlchemy engine (SQLite or PostgreSQL tested).
    :param clock: what stamps the rows and what the daily cap counts from; the wall clock
        by default (tests pass their own).
    :param auto_migrate: on first use, create or migrate the schema when it is not this
        code's (``[connectsafely] auto_migrate``); when False, refuse instead, changing nothing,
        and name ``connectsafely-ledger upgrade``.
    :param erasure_secret: the key of the hashes that stand for forgotten people
        (``[connectsafely] erasure_secret``); never stored in the ledger. Without it, claims
        cannot recognise a forgotten person and ``forget`` refuses.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        auto_migrate: bool = True,
        erasure_secret: bytes | str | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.auto_migrate = auto_migrate
        self.erasure_secret = (
            erasure_secret.encode("utf-8") if isinstance(erasure_secret, str) else erasure_secret
        )
        self._schema_ready = False
        self._caps_noted: set[tuple[str, str, datetime, int]] = set()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = utc_now,
        auto_migrate: bool = True,
        erasure_secret: bytes | str | None = None,
        **engine_kwargs: Any,
    ) -> SendLedger:
        """Open a ledger at a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``)."""
        from sqlalchemy import create_engine, event

        engine = create_engine(url, **engine_kwargs)
        if engine.dialect.name == "sqlite":
            _check_sqlite_version()
            event.listen(engine, "connect", _sqlite_pragmas)
        return cls(engine, clock=clock, auto_migrate=auto_migrate, erasure_secret=erasure_secret)

    @classmethod
    def sqlite(
        cls,
        path: str | Path,
        *,
        clock: Clock = utc_now,
        auto_migrate: bool = True,
        erasure_secret: bytes | str | None = None,
    ) -> SendLedger:
        """A SQLite ledger file (WAL journal, 30 s busy timeout), its folder created if needed."""
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        return cls.from_url(
            f"sqlite:///{file}", clock=clock, auto_migrate=auto_migrate, erasure_secret=erasure_secret
        )

    def __repr__(self) -> str:  # never the erasure secret
        return f"SendLedger({self.describe()})"

    def describe(self) -> str:
        """The ledger's location, without any password (nor query options, which can hold one)."""
        return self.engine.url.set(query={}).render_as_string(hide_password=True)

    def ensure_schema(self) -> None:
        """On first use, bring the ledger to this code's schema: create it, or migrate one that an
        older release wrote. Safe when several workers race to do it; one query once it is done.

        :raises ConnectSafelyConfigError: when a newer provider has already migrated the ledger,
            or the schema is not this code's and ``auto_migrate`` is off.
        """
        if self._schema_ready:
            return
        from airflow_provider_connectsafely.ledger import migrations

        version = migrations.current_version(self.engine)
        if version != migrations.HEAD:
            if not self.auto_migrate:
                raise migrations.upgrade_required(self.engine, version, self.describe())
            self.upgrade()
        self._schema_ready = True

    def upgrade(self) -> bool:
        """Migrate the ledger to ``migrations.HEAD`` now (under a lock); True when it changed."""
        from airflow_provider_connectsafely.ledger import migrations

        changed = migrations.upgrade(self.engine, self.describe())
        self._schema_ready = True
        return changed

    def schema_version(self) -> str | None:
        """The ledger's schema version; None for a new ledger or one written by release 0.1."""
        from airflow_provider_connectsafely.ledger.migrations import current_version

        return current_version(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- reading ---------------------------------------------------------------------------

    def get(self, dedupe_key: str) -> LedgerEntry | None:
        return self.get_many([dedupe_key]).get(dedupe_key)

    def get_many(self, dedupe_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The rows for these keys, in bulk (chunked ``IN`` queries, not one query per key)."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import sends

        self.ensure_schema()
        found: dict[str, LedgerEntry] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(dedupe_keys)), _CHUNK):
                rows = conn.execute(select(sends).where(sends.c.dedupe_key.in_(chunk))).mappings()
                for row in rows:
                    found[row["dedupe_key"]] = _entry(row)
        return found

    def count_since(self, account: str, since: datetime, *, kind: str = MESSAGE) -> int:
        """Sends of ``kind`` that count against ``account``'s cap since ``since``: sent ones,
        and pending or unknown ones (they may have been delivered).

        :param kind: ``message`` (the daily cap) or ``connect`` (the weekly connect cap).
        """
        from sqlalchemy import func, select

        from airflow_provider_connectsafely.ledger.schema import sends

        self.ensure_schema()
        query = (
            select(func.count())
            .select_from(sends)
            .where(sends.c.account == account)
            .where(sends.c.kind == kind)
            .where(sends.c.updated_at >= as_utc(since))
            .where(sends.c.state.in_((SENT, PENDING, UNKNOWN)))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def note_cap(self, account: str, kind: str, window_start: datetime, cap: int) -> None:
        """Record the cap applied to ``account``'s sends of ``kind`` in the cap window starting
        at ``window_start``, so the page and ``stats`` show what was enforced. Written when it
        changes, not on every send (one row per account, kind and window)."""
        noted = (account, kind, as_utc(window_start), cap)
        if noted in self._caps_noted:
            return
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import caps

        self.ensure_schema()
        values = {"account": account, "kind": kind, "window_start": noted[2], "cap": cap}
        now = self.clock()
        with self.engine.begin() as conn:
            added = conn.execute(self.insert_if_absent(caps, {**values, "updated_at": now}, "cap")).first()
            if added is None:
                conn.execute(
                    update(caps)
                    .where(caps.c.account == account, caps.c.kind == kind)
                    .where(caps.c.window_start == noted[2])
                    .values(cap=cap, updated_at=now)
                )
        self._caps_noted.add(noted)

    # -- claiming and recording ----------------------------------------------------------

    def claim(self, send: NewSend, *, take_over: Collection[str] = ()) -> Claim:
        """Atomically take the right to send ``send.dedupe_key``.

        Succeeds when the key is new, when its last attempt failed in a way that proves
        nothing was delivered, or when its state is in ``take_over`` (e.g. ``unknown`` for
        an explicit resend). Otherwise returns the existing row and the caller must not send.
        Never succeeds for a person on the do-not-contact list (for everywhere or for the key's
        campaign): the same statement that claims checks the list, and the refusal names the
        suppression (``Claim.suppressed``).
        """
        from sqlalchemy import update
        from sqlalchemy.exc import IntegrityError

        from airflow_provider_connectsafely.ledger import suppressions
        from airflow_provider_connectsafely.ledger.schema import sends

        self.ensure_schema()
        token = str(uuid.uuid4())
        now = self.clock()
        values = {
            "dedupe_key": send.dedupe_key,
            "state": PENDING,
            "account": send.account,
            "recipient": send.recipient,
            "claim_token": token,
            "attempts": 1,
            "retryable": False,
            "dag_id": send.dag_id,
            "task_id": send.task_id,
            "run_id": send.run_id,
            "map_index": send.map_index,
            "kind": send.kind,
            "campaign": campaign_label(send.dedupe_key),
            "step": send.step,
            "variant": send.variant,
            "created_at": now,
            "updated_at": now,
        }
        allowed = ~suppressions.blocking(
            suppressions.claim_persons(send.recipient, self.erasure_secret, send.dedupe_key),
            suppressions.claim_scopes(send.dedupe_key),
        )
        try:
            with self.engine.begin() as conn:
                suppressions.lock_for_claim(conn)
                inserted = (
                    conn.execute(self.insert_if_absent(sends, values, "dedupe_key", where=allowed)).first()
                    is not None
                )
        except IntegrityError:
            inserted = False
        if inserted:
            return Claim(claimed=True, token=token)

        existing = self.get(send.dedupe_key)
        if existing is None:
            blocked = self._suppression(send)
            if blocked is not None:
                return Claim(claimed=False, suppressed=blocked)
            return self.claim(send, take_over=take_over)  # deleted under us: once more
        if not (existing.may_send_again or existing.state in take_over):
            return Claim(claimed=False, entry=existing)
        retake = (
            update(sends)
            .where(sends.c.dedupe_key == send.dedupe_key)
            .where(sends.c.state == existing.state)
            .where(sends.c.attempts == existing.attempts)
            .where(allowed)
            .values(
                state=PENDING,
                claim_token=token,
                attempts=sends.c.attempts + 1,
                retryable=False,
                error=None,
                account=send.account,
                dag_id=send.dag_id,
                task_id=send.task_id,
                run_id=send.run_id,
                map_index=send.map_index,
                step=send.step,
                variant=send.variant,
                updated_at=now,
                **_PER_ATTEMPT,
            )
        )
        with self.engine.begin() as conn:
            suppressions.lock_for_claim(conn)
            if conn.execute(retake).rowcount == 1:
                return Claim(claimed=True, token=token)
        blocked = self._suppression(send)
        return Claim(claimed=False, entry=self.get(send.dedupe_key), suppressed=blocked)

    def _suppression(self, send: NewSend) -> Suppression | None:
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList

        return SuppressionList(self).for_send(send.recipient, send.dedupe_key)

    def mark_sent(self, dedupe_key: str, token: str, response: dict[str, Any]) -> None:
        """Record a delivery with the API's answer, and the conversation it landed in when the
        answer names it (``conversationUrn``, ``threadId``, ``sentMessage.messageUrn``)."""
        from airflow_provider_connectsafely.ledger.schema import sends

        message = response.get("sentMessage")
        self._finish(
            dedupe_key,
            token,
            state=SENT,
            recipient_urn=_fit(
                response.get("recipientProfileUrn") or response.get("profileUrn"), sends.c.recipient_urn
            ),
            conversation_urn=_fit(response.get("conversationUrn"), sends.c.conversation_urn),
            thread_id=_fit(response.get("threadId"), sends.c.thread_id),
            message_urn=_fit(
                message.get("messageUrn") if isinstance(message, dict) else None, sends.c.message_urn
            ),
            response=json.dumps(response, default=str),
        )

    def mark_failed(self, dedupe_key: str, token: str, reason: str, *, retryable: bool) -> None:
        """Record a failure; ``retryable`` only when it proves nothing was delivered."""
        self._finish(dedupe_key, token, state=FAILED, error=reason[:_MAX_ERROR], retryable=retryable)

    def mark_unknown(self, dedupe_key: str, token: str, reason: str) -> None:
        self._finish(dedupe_key, token, state=UNKNOWN, error=reason[:_MAX_ERROR])

    def mark_abandoned(self, dedupe_key: str, attempts: int, reason: str) -> bool:
        """Record a ``pending`` row whose try stopped before recording an outcome as
        ``unknown``; only if it is still that try's claim (same number of attempts).

        :returns: whether the row changed.
        """
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import sends

        query = (
            update(sends)
            .where(sends.c.dedupe_key == dedupe_key)
            .where(sends.c.state == PENDING, sends.c.attempts == attempts)
            .values(state=UNKNOWN, error=reason[:_MAX_ERROR], updated_at=self.clock())
        )
        with self.engine.begin() as conn:
            return bool(conn.execute(query).rowcount)

    def resolve(self, dedupe_key: str, state: str, note: str = "", *, settled_by: str | None = None) -> bool:
        """Settle a ``pending`` or ``unknown`` row by hand after checking LinkedIn:
        ``sent`` (it was delivered) or ``failed`` (it was not; a new attempt may send).

        :param note: what was checked; kept as the settle note, and in ``error`` as before.
        :param settled_by: who settled it, recorded with the time.
        :returns: False when no ``pending`` or ``unknown`` row has that key.
        """
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import sends

        if state not in (SENT, FAILED):
            raise ValueError("resolve a send as 'sent' or 'failed'")
        self.ensure_schema()
        now = self.clock()
        query = (
            update(sends)
            .where(sends.c.dedupe_key == dedupe_key)
            .where(sends.c.state.in_((PENDING, UNKNOWN)))
            .values(
                state=state,
                retryable=state == FAILED,
                error=f"resolved by hand: {note}" if note else "resolved by hand",
                settled_by=settled_by[:_MAX_SETTLED_BY] if settled_by else None,
                settled_at=now,
                settle_note=note or None,
                updated_at=now,
            )
        )
        with self.engine.begin() as conn:
            return bool(conn.execute(query).rowcount)

    # -- the do-not-contact list ------------------------------------------------------------

    def suppress(
        self,
        person: str,
        *,
        scope: str | None = None,
        reason: str | None = None,
        source: str = "api",
        created_by: str | None = None,
    ) -> int:
        """Put a person on the do-not-contact list: no send to them is claimed from the moment
        this returns (a claim in progress either committed before, or sees it).

        :param person: a profile ID, profile URL or URN.
        :param scope: a campaign (``spring``, or ``batch:spring`` for that kind only); None or
            ``''`` for everywhere.
        :param reason: a note kept with the entry.
        :param source: ``manual``, ``import``, ``reply`` or ``api``.
        :param created_by: who adds it.
        :returns: how many rows were added (0 when already on the list; more with aliases).
        :raises ConnectSafelyValidationError: a malformed person or source.
        """
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList, check_entry

        return SuppressionList(self).add([check_entry(person, scope, source, reason)], created_by=created_by)

    def suppress_many(
        self, rows: Iterable[dict[str, Any]], *, source: str = "import", created_by: str | None = None
    ) -> int:
        """Add many entries (dicts with ``person`` and optional ``scope``, ``reason``,
        ``source``) in one transaction: every row is checked first, and one bad row adds none.

        :raises ConnectSafelyValidationError: naming the first bad row (``row N``, from 1).
        """
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList, check_entry

        checked = [
            check_entry(
                row.get("person", ""),
                row.get("scope"),
                row.get("source") or source,
                row.get("reason"),
                where=f"row {number}",
            )
            for number, row in enumerate(rows, start=1)
        ]
        return SuppressionList(self).add(checked, created_by=created_by)

    def unsuppress(self, person: str, *, scope: str | None = None) -> int:
        """Take a person off the list (one scope, or every scope when None); how many rows went."""
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList, person_key

        return SuppressionList(self).remove(person_key(person), scope)

    def suppressions(self, person: str | None = None, *, scope: str | None = None) -> list[Suppression]:
        """The do-not-contact list, newest first; only one person's, or one scope's, when given."""
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList, person_key

        return SuppressionList(self).entries(person_key(person) if person else None, scope=scope)

    def suppressed(self, recipient: str, dedupe_key: str = "") -> Suppression | None:
        """The entry that would stop a send to ``recipient`` under ``dedupe_key`` (its
        campaign), or None. Claims check this themselves; this is for callers that send
        without a claim (the notifier) and for dry runs."""
        from airflow_provider_connectsafely.ledger.suppressions import SuppressionList

        self.ensure_schema()
        return SuppressionList(self).for_send(recipient, dedupe_key)

    # -- privacy -----------------------------------------------------------------------------

    def forget(self, person: str, *, erased_by: str | None = None) -> Erased:
        """Erase everything personal about one person, keep them suppressed under a keyed hash,
        and record the erasure (see :func:`~airflow_provider_connectsafely.ledger.privacy.forget`).

        :raises ConnectSafelyConfigError: no erasure secret is configured.
        :raises ConnectSafelyValidationError: a malformed person.
        """
        from airflow_provider_connectsafely.ledger import privacy

        return privacy.forget(self, person, erased_by=erased_by)

    def show_person(self, person: str) -> dict[str, Any]:
        """Everything held about one person (for an access request), JSON-ready."""
        from airflow_provider_connectsafely.ledger import privacy

        return privacy.show_person(self, person)

    def prune(self, days: int) -> Pruned:
        """Blank message and reply texts older than ``days``; states, times and counts stay."""
        from airflow_provider_connectsafely.ledger import privacy

        return privacy.prune(self, days)

    def _finish(self, dedupe_key: str, token: str, **values: Any) -> None:
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import sends

        query = (
            update(sends)
            .where(sends.c.dedupe_key == dedupe_key)
            .where(sends.c.claim_token == token)
            .values(updated_at=self.clock(), **values)
        )
        with self.engine.begin() as conn:
            if conn.execute(query).rowcount != 1:
                raise LookupError(f"ledger row {dedupe_key!r} is no longer held by this claim")

    def insert_if_absent(
        self, table: Any, values: dict[str, Any], returning: str, *, where: Any = None
    ) -> Any:
        """An INSERT that adds nothing when the primary key exists (nor when ``where``, a
        condition checked in the same statement, is false); its RETURNING row says whether it
        won (rowcount is -1 with some drivers)."""
        from sqlalchemy import insert, literal, select

        dialect = self.engine.dialect.name
        make: Any
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as make
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as make
        else:
            make = insert  # other databases: IntegrityError on conflict
        if where is None:
            query = make(table).values(**values)
        else:
            row = select(*(literal(v, table.c[k].type).label(k) for k, v in values.items())).where(where)
            query = make(table).from_select(list(values), row)
        if make is not insert:
            query = query.on_conflict_do_nothing()
        return query.returning(table.c[returning])


def _check_sqlite_version() -> None:
    import sqlite3

    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    if sqlite3.sqlite_version_info < (3, 35):
        raise ConnectSafelyConfigError(
            f"The send ledger needs SQLite 3.35 or newer (INSERT ... RETURNING); this Python has "
            f"{sqlite3.sqlite_version}. Fix: set ledger_conn_id to a PostgreSQL connection, or "
            "use a Python built with a newer SQLite"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    import sqlite3

    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
    # Connections switching a new file to WAL at the same moment deadlock, and SQLite answers
    # "database is locked" at once instead of waiting: try again, as long as the busy timeout.
    for attempt in Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e)),
        stop=stop_after_delay(_SQLITE_BUSY_SECONDS),
        wait=wait_fixed(0.01),
        reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fit(value: Any, column: Any) -> str | None:
    # An identifier too long for its column stays in the stored answer only: failing here would
    # lose the record of a message already delivered.
    text = str(value) if value else None
    return text if text and len(text) <= column.type.length else None


def _entry(row: Any) -> LedgerEntry:
    response = row["response"]
    return LedgerEntry(
        dedupe_key=row["dedupe_key"],
        state=row["state"],
        account=row["account"],
        recipient=row["recipient"],
        attempts=row["attempts"],
        retryable=bool(row["retryable"]),
        error=row["error"],
        recipient_urn=row["recipient_urn"],
        response=json.loads(response) if response else None,
        dag_id=row["dag_id"],
        task_id=row["task_id"],
        run_id=row["run_id"],
        map_index=row["map_index"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        conversation_urn=row["conversation_urn"],
        thread_id=row["thread_id"],
        message_urn=row["message_urn"],
        settled_by=row["settled_by"],
        settled_at=as_utc(row["settled_at"]) if row["settled_at"] else None,
        settle_note=row["settle_note"],
        kind=row["kind"],
        campaign=row["campaign"],
        step=row["step"],
        variant=row["variant"],
    )
