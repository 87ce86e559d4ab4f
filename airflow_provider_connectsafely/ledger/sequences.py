"""Sequence enrolments in the ledger: who is in which campaign, at which step, and whether
they replied. No Airflow imports; SQLAlchemy loads when a store is used.

The messages themselves are claimed and recorded in the sends table like every other send
(key ``sequence:<campaign>:<step>:<recipient>``), so an enrolment row is bookkeeping: if it
ever lags behind (a crash between a send and its update), the next run finds the step's key
already sent and catches up without sending again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely.clock import as_utc
from airflow_provider_connectsafely.ledger.records import FAILED, UNKNOWN

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

ACTIVE = "active"
REPLIED = "replied"
FINISHED = "finished"
#: Left ``recipients`` while ``on_removed="stop"``.
REMOVED = "removed"
#: On the do-not-contact list (a step's claim was refused, or their reply opted out).
SUPPRESSED = "suppressed"
STATES = (ACTIVE, REPLIED, FINISHED, FAILED, UNKNOWN, REMOVED, SUPPRESSED)
#: The states a run still works on (steps may be due, replies are read).
LIVE = (ACTIVE, UNKNOWN)
#: Why a person's latest due step did not go out (``skip_reason``, counted by the ledger
#: page): a connect step skipped (connected, or an invitation pending either way), or a due
#: step held for the recipient's sending window or the account's cap.
SKIP_CONNECTED = "already connected"
SKIP_INVITED = "already invited"
SKIP_WINDOW = "outside window"
SKIP_CAP = "cap"
SKIP_REASONS = (SKIP_CONNECTED, SKIP_INVITED, SKIP_WINDOW, SKIP_CAP)
#: The reasons that hold a step (cleared once it goes out); the others say how a person passed
#: a connect step and stay until another reason replaces them.
HOLDS = (SKIP_WINDOW, SKIP_CAP)
_MAX_TEXT = 4000
#: Values bound per ``IN`` list (below SQLite's and drivers' parameter limits).
_CHUNK = 900
#: The due query's margin: it reads a little more, the exact rule is applied in Python.
_DUE_SLACK = timedelta(minutes=1)


@dataclass
class Enrollment:
    """One recipient in one campaign.

    :param campaign: the sequence's identity.
    :param recipient: the recipient as it keys the ledger (lower-case profile ID, or URN).
    :param account: the LinkedIn account that contacts them (follow-ups come from it too).
    :param state: one of :data:`STATES`.
    :param step: how many steps were sent (0: none yet).
    :param data: the recipient's row at enrolment, for rendering later steps.
    :param conversation_urn: the conversation the steps go to, once known.
    :param enrolled_at: when they joined.
    :param first_sent_at: when step 1 was sent (replies count from then).
    :param last_sent_at: when the latest step was sent (the next ``wait`` counts from then).
    :param replied_at: when they replied.
    :param reply_text: what they replied.
    :param error: why the enrolment failed or is unknown.
    :param checked_at: when the connection request's acceptance was last read (connect steps).
    :param accepted_at: when the person was found connected after a connect step.
    :param skip_reason: why their latest due step did not go out (one of :data:`SKIP_REASONS`).
    """

    campaign: str
    recipient: str
    account: str
    state: str = ACTIVE
    step: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    conversation_urn: str | None = None
    enrolled_at: datetime | None = None
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    replied_at: datetime | None = None
    reply_text: str | None = None
    error: str | None = None
    checked_at: datetime | None = None
    accepted_at: datetime | None = None
    skip_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, for XCom and the CLI."""
        out: dict[str, Any] = {
            "recipient": self.recipient,
            "account": self.account,
            "state": self.state,
            "step": self.step,
        }
        for name in ("conversation_urn", "reply_text", "error"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("enrolled_at", "first_sent_at", "last_sent_at", "replied_at"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat()
        return out


class SequenceStore:
    """Enrolments and reply watermarks, in the send ledger's database.

    :param ledger: the send ledger (its engine, clock and schema).
    """

    def __init__(self, ledger: SendLedger) -> None:
        self.ledger = ledger

    def enroll(self, campaign: str, people: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
        """Add ``(recipient, account, data)`` rows not enrolled yet; return those added."""
        from airflow_provider_connectsafely.ledger.schema import enrollments

        # ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` decides who is new: no pre-load.
        self.ledger.ensure_schema()
        fresh = {recipient: (account, data) for recipient, account, data in people}
        if not fresh:
            return []
        now = self.ledger.clock()
        rows = [
            {
                "campaign": campaign,
                "recipient": recipient,
                "account": account,
                "state": ACTIVE,
                "step": 0,
                "data": json.dumps(data, default=str),
                "enrolled_at": now,
                "updated_at": now,
            }
            for recipient, (account, data) in fresh.items()
        ]
        added: list[str] = []
        with self.ledger.engine.begin() as conn:
            for row in rows:
                result = conn.execute(self.ledger.insert_if_absent(enrollments, row, "recipient")).first()
                if result is not None:
                    added.append(str(row["recipient"]))
        return added

    def recipients(self, campaign: str) -> set[str]:
        """Who is enrolled in the campaign (any state): one column, nothing parsed."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        query = select(table.c.recipient).where(table.c.campaign == campaign)
        with self.ledger.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def live_recipients(self, campaign: str) -> list[str]:
        """The recipients in a :data:`LIVE` state."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        query = select(table.c.recipient).where(table.c.campaign == campaign, table.c.state.in_(LIVE))
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def get_many(self, campaign: str, recipients: Iterable[str]) -> dict[str, Enrollment]:
        """These recipients' enrolments (those that exist), in chunked ``IN`` queries."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        wanted = list(dict.fromkeys(recipients))
        found: dict[str, Enrollment] = {}
        with self.ledger.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                query = select(table).where(table.c.campaign == campaign, table.c.recipient.in_(chunk))
                for row in conn.execute(query).mappings():
                    found[row["recipient"]] = _enrollment(row)
        return found

    def due(self, campaign: str, waits: Sequence[timedelta], now: datetime) -> list[Enrollment]:
        """The live enrolments whose next step may be due at ``now``, oldest first: unknown
        ones with a step left, and active ones whose base time (``enrolled_at`` before step 1,
        ``last_sent_at`` after) is at least that step's wait old. The query keeps a small
        margin: the caller applies the exact rule."""
        from sqlalchemy import and_, or_, select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        when = []
        for index, wait in enumerate(waits):
            base = table.c.last_sent_at if index else table.c.enrolled_at
            cutoff = now - wait + _DUE_SLACK
            ready = base <= cutoff
            if wait <= _DUE_SLACK:
                ready = or_(ready, base.is_(None))
            when.append(and_(table.c.step == index, ready))
        query = (
            select(table)
            .where(table.c.campaign == campaign, table.c.step < len(waits))
            .where(or_(table.c.state == UNKNOWN, and_(table.c.state == ACTIVE, or_(*when))))
            .order_by(table.c.enrolled_at, table.c.recipient)
        )
        with self.ledger.engine.connect() as conn:
            return [_enrollment(row) for row in conn.execute(query).mappings()]

    def counts(self, campaign: str) -> dict[str, int]:
        """The number of enrolments in each state."""
        from sqlalchemy import func, select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        query = (
            select(table.c.state, func.count()).where(table.c.campaign == campaign).group_by(table.c.state)
        )
        with self.ledger.engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(query)}

    def reconcile(self, campaign: str, n_steps: int) -> None:
        """After the steps changed: reopen the finished with a step left (a step was added),
        finish the active with none left (a step was removed)."""
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        now = self.ledger.clock()
        mine = table.c.campaign == campaign
        with self.ledger.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(mine, table.c.state == FINISHED, table.c.step < n_steps)
                .values(state=ACTIVE, error=None, updated_at=now)
            )
            conn.execute(
                update(table)
                .where(mine, table.c.state == ACTIVE, table.c.step >= n_steps)
                .values(state=FINISHED, error=None, updated_at=now)
            )

    def remove_absent(self, campaign: str, present: Collection[str], error: str) -> list[str]:
        """Mark :data:`REMOVED` the live enrolments not in ``present``; return them."""
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        gone = [who for who in self.live_recipients(campaign) if who not in present]
        if not gone:
            return []
        now = self.ledger.clock()
        removed: list[str] = []
        with self.ledger.engine.begin() as conn:
            for start in range(0, len(gone), _CHUNK):
                chunk = gone[start : start + _CHUNK]
                conn.execute(
                    update(table)
                    .where(table.c.campaign == campaign, table.c.recipient.in_(chunk))
                    .where(table.c.state.in_(LIVE))
                    .values(state=REMOVED, error=error[:_MAX_TEXT], updated_at=now)
                )
                removed.extend(chunk)
        return removed

    def reply_starts(
        self, campaign: str, finished_since: datetime | None = None
    ) -> list[tuple[str, datetime]]:
        """Per account with live enrolments that got a first step: the earliest
        ``first_sent_at`` (where its reply listing starts); accounts in the order of their
        oldest such enrolment.

        :param finished_since: also watch the finished enrolments whose last step went out
            at or after this time (a reply window after the last step); None: live ones only.
        """
        from sqlalchemy import func, select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        query = (
            select(table.c.account, func.min(table.c.first_sent_at), func.min(table.c.enrolled_at))
            .where(*_watched(table, campaign, finished_since))
            .group_by(table.c.account)
        )
        with self.ledger.engine.connect() as conn:
            rows = [(str(a), as_utc(first), as_utc(oldest)) for a, first, oldest in conn.execute(query)]
        rows.sort(key=lambda row: row[2])
        return [(account, first) for account, first, _oldest in rows]

    def watched(
        self,
        campaign: str,
        account: str,
        *,
        conversations: Collection[str] | None = None,
        recipients: Collection[str] | None = None,
        finished_since: datetime | None = None,
    ) -> list[Enrollment]:
        """The account's live enrolments that got a first step, oldest first; only those in
        one of ``conversations`` or ``recipients`` when either is given (chunked); and the
        finished ones whose last step went out at or after ``finished_since``, when given."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        self.ledger.ensure_schema()
        base = select(table).where(*_watched(table, campaign, finished_since), table.c.account == account)
        if conversations is None and recipients is None:
            queries = [base]
        else:
            queries = []
            for column, values in (
                (table.c.conversation_urn, conversations),
                (table.c.recipient, recipients),
            ):
                wanted = list(dict.fromkeys(values or ()))
                for start in range(0, len(wanted), _CHUNK):
                    queries.append(base.where(column.in_(wanted[start : start + _CHUNK])))
        found: dict[str, Enrollment] = {}
        with self.ledger.engine.connect() as conn:
            for query in queries:
                for row in conn.execute(query).mappings():
                    found.setdefault(row["recipient"], _enrollment(row))
        return sorted(found.values(), key=lambda e: (e.enrolled_at or _EPOCH, e.recipient))

    def enrollments(self, campaign: str, states: tuple[str, ...] | None = None) -> list[Enrollment]:
        """The campaign's enrolments, oldest first; only those in ``states`` when given."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import enrollments

        self.ledger.ensure_schema()
        query = select(enrollments).where(enrollments.c.campaign == campaign)
        if states is not None:
            query = query.where(enrollments.c.state.in_(states))
        query = query.order_by(enrollments.c.enrolled_at, enrollments.c.recipient)
        with self.ledger.engine.connect() as conn:
            return [_enrollment(row) for row in conn.execute(query).mappings()]

    def advance(
        self,
        enrollment: Enrollment,
        *,
        sent_at: datetime,
        conversation_urn: str | None,
        finished: bool,
        skipped: str | None = None,
    ) -> bool:
        """Record that step ``enrollment.step + 1`` went out (or was skipped for ``skipped``,
        one of :data:`SKIP_REASONS`); a no-op (False) when another run advanced it first."""
        values: dict[str, Any] = {
            "step": enrollment.step + 1,
            "last_sent_at": sent_at,
            "state": FINISHED if finished else ACTIVE,
            "error": None,
        }
        if skipped is not None:
            values.update(skip_reason=skipped, skipped_at=sent_at)
        elif enrollment.skip_reason in HOLDS:  # held before, sent now
            values.update(skip_reason=None, skipped_at=None)
        if conversation_urn:
            values["conversation_urn"] = conversation_urn
        if enrollment.step == 0:
            values["first_sent_at"] = sent_at
        return self._update(enrollment, values, expect_step=enrollment.step)

    def set_state(
        self, enrollment: Enrollment, state: str, *, error: str | None = None, **extra: Any
    ) -> bool:
        """Move an enrolment to ``state`` (replied, failed, unknown, removed, active)."""
        if state not in STATES:
            raise ValueError(f"unknown enrolment state {state!r}")
        values: dict[str, Any] = {"state": state, "error": error[:_MAX_TEXT] if error else None, **extra}
        return self._update(enrollment, values, expect_step=enrollment.step)

    def mark_checked(self, enrollment: Enrollment, at: datetime) -> bool:
        """Record when the acceptance of the person's connection request was read."""
        return self._update(enrollment, {"checked_at": at}, expect_step=enrollment.step)

    def mark_accepted(self, enrollment: Enrollment, at: datetime) -> bool:
        """Record when the person was first found connected after a connect step."""
        if enrollment.accepted_at is not None:
            return False
        return self._update(enrollment, {"accepted_at": at}, expect_step=enrollment.step)

    def note_skipped(self, campaign: str, recipients: Collection[str], reason: str, at: datetime) -> None:
        """Record that these people's due steps were held for ``reason`` (one of
        :data:`SKIP_REASONS`); rows already holding that reason are left as they are, so a
        reason's ``skipped_at`` is when it first applied. Chunked ``UPDATE``s, no reads."""
        from sqlalchemy import or_, update

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        wanted = list(dict.fromkeys(recipients))
        with self.ledger.engine.begin() as conn:
            for start in range(0, len(wanted), _CHUNK):
                conn.execute(
                    update(table)
                    .where(
                        table.c.campaign == campaign, table.c.recipient.in_(wanted[start : start + _CHUNK])
                    )
                    .where(or_(table.c.skip_reason.is_(None), table.c.skip_reason != reason))
                    .values(skip_reason=reason, skipped_at=at)
                )

    def mark_replied(self, enrollment: Enrollment, reply_at: datetime, text: str) -> bool:
        return self.set_state(enrollment, REPLIED, replied_at=reply_at, reply_text=(text or "")[:_MAX_TEXT])

    def watermark(self, campaign: str, account: str) -> datetime | None:
        """Replies were read for this campaign and account up to this time."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import reply_watermarks as marks

        self.ledger.ensure_schema()
        query = select(marks.c.checked_until).where(marks.c.campaign == campaign, marks.c.account == account)
        with self.ledger.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return as_utc(value) if value is not None else None

    def set_watermark(self, campaign: str, account: str, checked_until: datetime) -> None:
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import reply_watermarks as marks

        row = {"campaign": campaign, "account": account, "checked_until": checked_until}
        with self.ledger.engine.begin() as conn:
            if conn.execute(self.ledger.insert_if_absent(marks, row, "campaign")).first() is None:
                conn.execute(
                    update(marks)
                    .where(marks.c.campaign == campaign, marks.c.account == account)
                    .where(marks.c.checked_until < checked_until)
                    .values(checked_until=checked_until)
                )

    def _update(self, enrollment: Enrollment, values: dict[str, Any], *, expect_step: int) -> bool:
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import enrollments as table

        values = {**values, "updated_at": self.ledger.clock()}
        query = (
            update(table)
            .where(table.c.campaign == enrollment.campaign, table.c.recipient == enrollment.recipient)
            .where(table.c.step == expect_step)
            .values(**values)
        )
        with self.ledger.engine.begin() as conn:
            changed = conn.execute(query).rowcount == 1
        if changed:
            for name, value in values.items():
                if hasattr(enrollment, name):
                    setattr(enrollment, name, value)
        return changed


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _watched(table: Any, campaign: str, finished_since: datetime | None = None) -> list[Any]:
    """Live enrolments of the campaign that got a first step (and the finished ones whose
    last step went out since ``finished_since``): their replies are read."""
    from sqlalchemy import and_, or_

    states: Any = table.c.state.in_(LIVE)
    if finished_since is not None:
        states = or_(states, and_(table.c.state == FINISHED, table.c.last_sent_at >= finished_since))
    return [
        table.c.campaign == campaign,
        states,
        table.c.step >= 1,
        table.c.first_sent_at.is_not(None),
    ]


def _enrollment(row: Any) -> Enrollment:
    def when(name: str) -> datetime | None:
        return as_utc(row[name]) if row[name] is not None else None

    return Enrollment(
        campaign=row["campaign"],
        recipient=row["recipient"],
        account=row["account"],
        state=row["state"],
        step=row["step"],
        data=json.loads(row["data"]) if row["data"] else {},
        conversation_urn=row["conversation_urn"],
        enrolled_at=when("enrolled_at"),
        first_sent_at=when("first_sent_at"),
        last_sent_at=when("last_sent_at"),
        replied_at=when("replied_at"),
        reply_text=row["reply_text"],
        error=row["error"],
        checked_at=when("checked_at"),
        accepted_at=when("accepted_at"),
        skip_reason=row["skip_reason"],
    )
