"""Connection requests (``POST /linkedin/connect``) and relationships
(``GET /linkedin/relationship/{profileId}``): the request models and the defensive parsing of
a relationship answer. No Airflow imports here.

A connection request is a send: the client never retries it once it may have gone out, and
the outreach layer claims it in the ledger like a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.api.models import (
    ToOnePerson,
    check_account,
    check_recipient,
    check_urn,
    normalize_profile_id,
    optional_text,
    text_length,
)
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

CONNECT_PATH = "/linkedin/connect"
RELATIONSHIP_PATH = "/linkedin/relationship/{}"
#: The ``status`` values that stand for a flag when the answer leaves the flag out.
_CONNECTED_STATUSES = ("connected",)
_SENT_STATUSES = ("pending", "invitation_sent", "invited")
_TRUE_WORDS = ("true", "1", "yes")


def check_note(note: Any, limit: int = defaults.CONNECT_NOTE_LENGTH) -> str | None:
    """The note of a connection request, checked: None (or blank) for no note.

    :param note: the rendered note.
    :param limit: the longest note, in UTF-16 code units as LinkedIn counts them.
    :raises ConnectSafelyValidationError: naming the field and the fix.
    """
    text = optional_text("note", note)
    if text is None:
        return None
    length = text_length(text)
    if length > limit:
        emoji = " (an emoji counts as 2)" if length != len(text) else ""
        raise ConnectSafelyValidationError(
            "note",
            f"{length} characters{emoji}, over LinkedIn's limit of {limit} for a connection request note",
            f"shorten the note to at most {limit} characters, or leave it unset to send no note",
        )
    return text


@dataclass(frozen=True)
class ConnectRequest(ToOnePerson):
    """A validated ``POST /linkedin/connect``; build it with :meth:`build`.

    :param recipient_profile_id: the person's profile ID (``john-doe-123``).
    :param recipient_profile_urn: the person's profile URN (``urn:li:fsd_profile:...``).
    :param note: the invitation's note (``customMessage``), at most 300 characters.
    :param account_id: the LinkedIn account that invites (the API's default when None).
    """

    recipient_profile_id: str | None = None
    recipient_profile_urn: str | None = None
    note: str | None = None
    account_id: str | None = None

    @classmethod
    def build(
        cls,
        *,
        recipient_profile_id: Any = None,
        recipient_profile_urn: Any = None,
        note: Any = None,
        account_id: Any = None,
        note_limit: int = defaults.CONNECT_NOTE_LENGTH,
    ) -> ConnectRequest:
        """Validate raw (for example, rendered template) values and return a request.

        :param note_limit: the longest note (LinkedIn: 300).
        :raises ConnectSafelyValidationError: naming the first wrong field and the fix.
        """
        profile_id, profile_urn = check_recipient(recipient_profile_id, recipient_profile_urn)
        return cls(
            recipient_profile_id=profile_id,
            recipient_profile_urn=profile_urn,
            note=check_note(note, note_limit),
            account_id=check_account(account_id),
        )

    @property
    def path(self) -> str:
        return CONNECT_PATH

    def to_body(self) -> dict[str, str]:
        """The JSON body, named as the API names fields; unset optional fields omitted."""
        body = {
            "accountId": self.account_id,
            "profileId": self.recipient_profile_id,
            "profileUrn": self.recipient_profile_urn,
            "customMessage": self.note,
        }
        return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class RelationshipRead:
    """``GET /linkedin/relationship/{profileId}``; build it with :meth:`build`.

    :param profile: a profile ID, or a profile URN (sent URL-encoded in the path).
    :param account_id: the account whose relationship is asked (the API's default when None).
    """

    profile: str
    account_id: str | None = None

    @classmethod
    def build(cls, profile: Any, account_id: Any = None) -> RelationshipRead:
        """Validate the profile (an ID, a ``linkedin.com/in/`` URL or a URN) and the account.

        :raises ConnectSafelyValidationError: naming the field and the fix.
        """
        text = optional_text("profile_id", profile)
        if text is None:
            raise ConnectSafelyValidationError(
                "profile_id", "no profile given", "pass a profile ID (e.g. 'john-doe-123'), URL or URN"
            )
        if text.startswith("urn:"):
            check_urn("profile_id", text)
        else:
            text = normalize_profile_id(text)
        return cls(profile=text, account_id=check_account(account_id))

    @property
    def path(self) -> str:
        return RELATIONSHIP_PATH.format(quote(self.profile, safe=""))

    def params(self) -> dict[str, str]:
        return {"accountId": self.account_id} if self.account_id else {}


@dataclass(frozen=True)
class Relationship:
    """An account's relationship with one person, parsed defensively from the API's answer:
    unknown fields are ignored, a missing or unreadable flag is False.

    :param connected: already a 1st-degree connection.
    :param invitation_sent: the account's invitation to the person is pending.
    :param invitation_received: the person's invitation to the account is pending.
    :param status: the API's ``status`` as given (e.g. ``connected``, ``pending``, ``none``).
    :param profile_urn: the person's URN, when the answer names it.
    :param account_id: the account, when the answer names it.
    :param raw: the answer as received.
    """

    connected: bool = False
    invitation_sent: bool = False
    invitation_received: bool = False
    status: str | None = None
    profile_urn: str | None = None
    account_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, body: Any) -> Relationship:
        """Read an answer: the fields at the top level, or under ``data`` / ``relationship``.

        When a flag is missing, ``status`` stands in for it (``connected``; ``pending``).
        """
        found = body if isinstance(body, dict) else {}
        for holder in ("data", "relationship"):
            inner = found.get(holder)
            if isinstance(inner, dict) and not any(k in found for k in ("connected", "status")):
                found = inner
        status = _text(found.get("status"))
        lowered = (status or "").lower()
        return cls(
            connected=_flag(found, "connected", lowered in _CONNECTED_STATUSES),
            invitation_sent=_flag(found, "invitationSent", lowered in _SENT_STATUSES),
            invitation_received=_flag(found, "invitationReceived", False),
            status=status,
            profile_urn=_text(found.get("profileUrn")),
            account_id=_text(found.get("accountId")),
            raw=dict(body) if isinstance(body, dict) else {},
        )

    def to_dict(self) -> dict[str, Any]:
        """The relationship named as the API names it (JSON-ready, for XCom)."""
        return {
            "connected": self.connected,
            "invitationSent": self.invitation_sent,
            "invitationReceived": self.invitation_received,
            "status": self.status,
            "profileUrn": self.profile_urn,
            "accountId": self.account_id,
        }


def _flag(holder: dict[str, Any], name: str, fallback: bool) -> bool:
    if name not in holder or holder[name] is None:
        return fallback
    value = holder[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return False


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
