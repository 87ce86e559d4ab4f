"""Connection requests (invitations) and relationships between accounts and profiles.

Nobody is connected to an account unless configured (``connected``, connected to every
account) or unless an invitation was accepted (``EmulatorServer.accept_invitation``). Sending
messages does not depend on it: the emulator delivers normal messages to anyone.
Each account may send ``weekly_limit`` invitations per week, the week starting Monday 00:00 UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .clock import iso_z, next_utc_monday, week_start
from .profiles import urn_of
from .quota import Quota

DEFAULT_WEEKLY_LIMIT = 90
_FIRST_INVITATION_ID = 7_100_000_000_000_000_000


class AlreadyConnected(ValueError):
    """The account is already connected to the profile."""


class AlreadyInvited(ValueError):
    """The account already has a pending invitation to the profile."""


@dataclass
class Invitation:
    """A connection request.

    :param id: ``invitationId``.
    :param account_id: the inviting account.
    :param profile_urn: the invited profile.
    :param message: the note (``customMessage``), if any.
    :param sent_at: when it was sent.
    :param accepted: whether the profile accepted it.
    """

    id: str
    account_id: str
    profile_urn: str
    message: str | None
    sent_at: datetime
    accepted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "invitationId": self.id,
            "accountId": self.account_id,
            "profileUrn": self.profile_urn,
            "customMessage": self.message,
            "sentAt": iso_z(self.sent_at, millis=True),
            "accepted": self.accepted,
        }


class ConnectionBook:
    """Invitations, accepted connections and the weekly invitation counts.

    :param lock: the lock of the ``EmulatorState`` that owns the book.
    :param weekly_limit: invitations per account per week.
    :param connected: profile ids or URNs connected to every account from the start.
    """

    def __init__(self, lock: threading.Lock, weekly_limit: int, connected: Iterable[str] = ()) -> None:
        if weekly_limit < 0:
            raise ValueError("weekly_connect_limit must be >= 0")
        self._lock = lock
        self.weekly_limit = weekly_limit
        self._preconnected = frozenset(urn_of(p) for p in connected)
        self._invitations: dict[tuple[str, str], Invitation] = {}
        self._sent: dict[tuple[str, date], int] = {}
        self._issued = 0

    def clear_locked(self) -> None:
        """Forget invitations and counts (configured connections stay); the caller holds the lock."""
        self._invitations.clear()
        self._sent.clear()
        self._issued = 0

    def weekly(self, account_id: str, now: datetime) -> Quota:
        """The account's invitation quota for the week of ``now``."""
        with self._lock:
            return self._weekly(account_id, now)

    def invite(
        self, account_id: str, profile_urn: str, message: str | None, now: datetime
    ) -> tuple[Quota, Invitation | None]:
        """Record an invitation if the weekly limit allows it.

        :returns: the quota after counting it, and the invitation (``None`` when over the limit).
        :raises AlreadyConnected: the account is connected to the profile.
        :raises AlreadyInvited: an invitation to the profile is pending.
        """
        with self._lock:
            status = self._status(account_id, profile_urn)
            if status == "connected":
                raise AlreadyConnected("Already connected")
            if status == "pending":
                raise AlreadyInvited("Invitation already pending")
            quota = self._weekly(account_id, now)
            if not quota.allowed:
                return quota, None
            self._sent[(account_id, week_start(now).date())] = quota.used + 1
            self._issued += 1
            invitation = Invitation(
                str(_FIRST_INVITATION_ID + self._issued), account_id, profile_urn, message, now
            )
            self._invitations[(account_id, profile_urn)] = invitation
            return Quota(True, quota.limit, quota.used + 1, quota.resets_at), invitation

    def accept(self, account_id: str, profile_urn: str) -> dict[str, Any]:
        """Accept the account's pending invitation to the profile.

        :raises LookupError: no pending invitation.
        """
        with self._lock:
            invitation = self._invitations.get((account_id, profile_urn))
            if invitation is None or invitation.accepted:
                raise LookupError("No pending invitation to this profile from this account")
            invitation.accepted = True
            return invitation.to_dict()

    def relationship(self, account_id: str, profile_urn: str) -> dict[str, Any]:
        """``connected``, ``invitationSent``, ``invitationReceived`` and ``status`` for a profile."""
        with self._lock:
            status = self._status(account_id, profile_urn)
        return {
            "connected": status == "connected",
            "invitationSent": status == "pending",
            "invitationReceived": False,
            "status": status,
        }

    def _status(self, account_id: str, profile_urn: str) -> str:
        invitation = self._invitations.get((account_id, profile_urn))
        if profile_urn in self._preconnected or (invitation is not None and invitation.accepted):
            return "connected"
        return "none" if invitation is None else "pending"

    def _weekly(self, account_id: str, now: datetime) -> Quota:
        used = self._sent.get((account_id, week_start(now).date()), 0)
        return Quota(used < self.weekly_limit, self.weekly_limit, used, next_utc_monday(now))
