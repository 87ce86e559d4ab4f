"""The send-message request: validation and the exact JSON body. No Airflow imports here.

One model serves the operator, the hook and the batch sender, so every path rejects the
same input with the same words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import unquote, urlsplit

from typing_extensions import Required, TypedDict

from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

SEND_PATH = "/linkedin/messaging/send"
SEND_WITH_TYPING_PATH = "/linkedin/messaging/send-with-typing"
#: ``normal`` (a direct message) or ``inmail``.
MessageType = Literal["normal", "inmail"]
MESSAGE_TYPES: tuple[MessageType, ...] = get_args(MessageType)


class MessageFields(TypedDict, total=False):
    """The arguments of one message that the hook, the notifier and the operators share,
    declared here once (the hook's ``build_request`` and ``send_message`` take these).

    :param message: the text to send (required).
    :param recipient_profile_id: the recipient's profile ID or profile URL.
    :param recipient_profile_urn: the recipient's profile URN.
    :param subject: InMail subject (with ``endpoint="conversations"``: any subject).
    :param message_type: ``normal`` or ``inmail`` (``messaging`` endpoint only).
    :param account_id: the account to send from; the connection's ``account_id`` extra when None.
    """

    message: Required[str]
    recipient_profile_id: str | None
    recipient_profile_urn: str | None
    subject: str | None
    message_type: MessageType
    account_id: str | None


class MessageArgs(MessageFields, total=False):
    """:class:`MessageFields` plus how the message goes out (the hook and the single-message
    operator).

    :param typing_indicator: ``messaging`` only: send through ``send-with-typing``.
    :param conversation_urn: with ``typing_indicator``, where to show typing; with
        ``endpoint="conversations"``, the conversation to write in, instead of a recipient.
    :param endpoint: ``"messaging"`` (default, ``POST /linkedin/messaging/send``) or
        ``"conversations"`` (``POST /linkedin/conversations/send``, whose answer carries
        ``threadId``, ``conversationUrn`` and ``sentMessage``).
    :param attachments: ``conversations`` only: a list of attachments.
    :param messaging_channel: ``conversations`` only: ``auto``, ``sales_navigator`` or
        ``linkedin_inbox``.
    """

    typing_indicator: bool
    conversation_urn: str | None
    endpoint: str
    attachments: list[Any] | None
    messaging_channel: str | None


#: The names of :class:`MessageFields` and :class:`MessageArgs`, for code that copies them from
#: an object's attributes (the operator, the notifier).
MESSAGE_FIELDS: tuple[str, ...] = tuple(MessageFields.__annotations__)
MESSAGE_ARGS: tuple[str, ...] = (
    *MESSAGE_FIELDS,
    *(k for k in MessageArgs.__annotations__ if k not in MESSAGE_FIELDS),
)

# Used with fullmatch: ``$`` would also match before a trailing newline.
_URN = re.compile(r"urn:li:[A-Za-z_]+:[^\s\x00-\x1f\x7f]+")
_PROFILE_ID = re.compile(r"[^\s/?#:\x00-\x1f\x7f]+")
_PROFILE_HOST = re.compile(r"([a-z]{2,3}\.|www\.)?linkedin\.com")
# Characters that show nothing: spaces, line breaks, control and format (zero-width) characters.
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}


@dataclass(frozen=True)
class MessageLimits:
    """Length limits checked before sending.

    :param normal: maximum characters of a normal message (no documented API maximum;
        other vendors enforce 8,000).
    :param inmail: maximum characters of an InMail body (LinkedIn allows about 1,900).
    :param subject: maximum characters of an InMail subject (LinkedIn: 200).
    """

    normal: int = 8000
    inmail: int = 1900
    subject: int = 200

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConnectSafelyValidationError(
                    "message_limits",
                    f"{limit.name}={value!r} is not a positive whole number of characters",
                    "use e.g. {'normal': 8000, 'inmail': 1900, 'subject': 200}",
                )

    @classmethod
    def coerce(cls, value: MessageLimits | dict[str, int] | None) -> MessageLimits:
        if value is None:
            return cls()
        if isinstance(value, MessageLimits):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"normal", "inmail", "subject"}
            if unknown:
                raise ConnectSafelyValidationError(
                    "message_limits",
                    f"unknown keys {sorted(unknown, key=repr)}",
                    "use only the keys 'normal', 'inmail' and 'subject'",
                )
            return cls(**value)
        raise ConnectSafelyValidationError(
            "message_limits", f"got {type(value).__name__}", "pass a dict or MessageLimits"
        )


class ToOnePerson:
    """What a request to one person (a message, a connection request) offers: its recipient
    as given, and its account filled in from the connection's default."""

    account_id: str | None
    recipient_profile_id: str | None
    recipient_profile_urn: str | None

    def with_default_account(self: _Request, account_id: str | None) -> _Request:
        """Return this request with ``account_id`` filled in when it has none."""
        if self.account_id or not account_id:
            return self
        return replace(self, account_id=check_account(account_id))  # type: ignore[type-var]

    @property
    def recipient(self) -> str:
        """The recipient as given: the profile ID, or else the URN."""
        return self.recipient_profile_id or self.recipient_profile_urn or ""


_Request = TypeVar("_Request", bound=ToOnePerson)


@dataclass(frozen=True)
class MessageRequest(ToOnePerson):
    """A validated send request; build it with :meth:`build`.

    :param message: the text to send.
    :param recipient_profile_id: the recipient's public profile ID (``john-doe-123``).
    :param recipient_profile_urn: the recipient's profile URN (``urn:li:fsd_profile:...``).
    :param subject: InMail subject.
    :param message_type: ``normal`` or ``inmail``.
    :param account_id: the ConnectSafely LinkedIn account to send from (API default if None).
    :param typing_indicator: send through the typing-indicator endpoint.
    :param conversation_urn: existing conversation to show typing in (typing endpoint only).
    """

    message: str
    recipient_profile_id: str | None = None
    recipient_profile_urn: str | None = None
    subject: str | None = None
    message_type: str = "normal"
    account_id: str | None = None
    typing_indicator: bool = False
    conversation_urn: str | None = None
    limits: MessageLimits = field(default_factory=MessageLimits, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        message: Any,
        recipient_profile_id: Any = None,
        recipient_profile_urn: Any = None,
        subject: Any = None,
        message_type: Any = "normal",
        account_id: Any = None,
        typing_indicator: Any = False,
        conversation_urn: Any = None,
        limits: MessageLimits | dict[str, int] | None = None,
    ) -> MessageRequest:
        """Validate raw (for example, rendered template) values and return a request.

        :raises ConnectSafelyValidationError: naming the first wrong field and the fix.
        """
        limits = MessageLimits.coerce(limits)
        profile_id, profile_urn = check_recipient(recipient_profile_id, recipient_profile_urn)
        kind = optional_text("message_type", message_type) or "normal"
        kind = kind.lower()
        if kind not in MESSAGE_TYPES:
            raise ConnectSafelyValidationError(
                "message_type", f"{kind!r} is not a message type", "use 'normal' or 'inmail'"
            )
        check_message(message, kind, limits)
        subject_text = optional_text("subject", subject)
        if subject_text is not None and kind != "inmail":
            raise ConnectSafelyValidationError(
                "subject",
                "a subject is only sent with InMail",
                "set message_type='inmail', or drop the subject",
            )
        check_subject(subject_text, limits)

        account = check_account(account_id)

        if not isinstance(typing_indicator, bool):
            raise ConnectSafelyValidationError(
                "typing_indicator", f"expected True or False, got {typing_indicator!r}", "pass a bool"
            )
        conversation = optional_text("conversation_urn", conversation_urn)
        if conversation is not None:
            if not typing_indicator:
                raise ConnectSafelyValidationError(
                    "conversation_urn",
                    "only the typing-indicator endpoint takes a conversation",
                    "set typing_indicator=True, or drop conversation_urn",
                )
            check_urn("conversation_urn", conversation)

        return cls(
            message=message,
            recipient_profile_id=profile_id,
            recipient_profile_urn=profile_urn,
            subject=subject_text,
            message_type=kind,
            account_id=account,
            typing_indicator=typing_indicator,
            conversation_urn=conversation,
            limits=limits,
        )

    @property
    def path(self) -> str:
        return SEND_WITH_TYPING_PATH if self.typing_indicator else SEND_PATH

    def to_body(self) -> dict[str, str]:
        """The JSON body, named as the API names fields; unset optional fields omitted."""
        body = {
            "accountId": self.account_id,
            "recipientProfileId": self.recipient_profile_id,
            "recipientProfileUrn": self.recipient_profile_urn,
            "message": self.message,
            "subject": self.subject,
            "messageType": self.message_type,
            "conversationUrn": self.conversation_urn,
        }
        return {key: value for key, value in body.items() if value is not None}


def check_recipient(
    profile_id: Any, profile_urn: Any, *, required: bool = True
) -> tuple[str | None, str | None]:
    """Check the recipient: at most one of the two (exactly one when ``required``); a profile
    URL is reduced to its ID.

    :param profile_id: the profile ID or URL, or None.
    :param profile_urn: the profile URN, or None.
    :param required: whether a recipient must be given.
    :raises ConnectSafelyValidationError: naming the field and the fix.
    """
    profile_id = optional_text("recipient_profile_id", profile_id)
    profile_urn = optional_text("recipient_profile_urn", profile_urn)
    if profile_id and profile_urn:
        raise ConnectSafelyValidationError(
            "recipient_profile_id",
            "both recipient_profile_id and recipient_profile_urn are set",
            "give exactly one recipient: the profile ID/URL or the URN",
        )
    if required and not profile_id and not profile_urn:
        raise ConnectSafelyValidationError(
            "recipient_profile_id",
            "no recipient given",
            "set recipient_profile_id (e.g. 'john-doe-123' or a linkedin.com/in/ URL) "
            "or recipient_profile_urn",
        )
    if profile_id:
        profile_id = normalize_profile_id(profile_id)
    if profile_urn:
        check_urn("recipient_profile_urn", profile_urn)
    return profile_id, profile_urn


def check_message(message: Any, kind: str, limits: MessageLimits) -> None:
    """Check the message text: a non-blank string within the limit of its kind.

    :param message: the rendered message.
    :param kind: ``normal`` or ``inmail`` (which limit applies).
    :param limits: the length limits.
    :raises ConnectSafelyValidationError: naming the field and the fix.
    """
    if not isinstance(message, str):
        raise ConnectSafelyValidationError(
            "message",
            f"expected text, got {type(message).__name__}",
            "pass the message as a string (or a template that renders to one)",
        )
    _check_unicode("message", message)
    if all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in message):
        raise ConnectSafelyValidationError(
            "message",
            "it is empty (or only whitespace or invisible characters) after rendering",
            "give a non-empty message; check that the template's variables are set",
        )
    max_len = limits.inmail if kind == "inmail" else limits.normal
    length = text_length(message)
    if length > max_len:
        raise ConnectSafelyValidationError(
            "message",
            f"{length} characters{_emoji_note(message)}, over the {kind} limit of {max_len}",
            "shorten the message, or raise the limit with message_limits",
        )


def check_subject(subject: str | None, limits: MessageLimits) -> None:
    """Check a subject's length (None: no subject).

    :raises ConnectSafelyValidationError: naming the field and the fix.
    """
    if subject is None:
        return
    length = text_length(subject)
    if length > limits.subject:
        raise ConnectSafelyValidationError(
            "subject",
            f"{length} characters{_emoji_note(subject)}, over the limit of {limits.subject}",
            "shorten the subject",
        )


def normalize_profile_id(value: str) -> str:
    """Reduce a LinkedIn profile URL to its ID; check a bare ID.

    ``https://www.linkedin.com/in/john-doe-123/?trk=x`` becomes ``john-doe-123``.

    :raises ConnectSafelyValidationError: for URNs, non-profile URLs and malformed IDs.
    """
    text = value.strip()
    if text.startswith("urn:"):
        raise ConnectSafelyValidationError(
            "recipient_profile_id",
            f"{text!r} is a URN, not a profile ID",
            "pass it as recipient_profile_urn instead",
        )
    lowered = text.lower()
    if "linkedin.com" in lowered or lowered.startswith(("http://", "https://")):
        url = text if "://" in text else f"https://{text}"
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed "[" in the host
            parts = urlsplit("")
        segments = [s for s in parts.path.split("/") if s]
        host = (parts.hostname or "").lower()
        if not _PROFILE_HOST.fullmatch(host) or len(segments) != 2 or segments[0].lower() != "in":
            raise ConnectSafelyValidationError(
                "recipient_profile_id",
                f"{text!r} is not a LinkedIn profile URL",
                "use a profile URL like https://www.linkedin.com/in/john-doe-123/ "
                "or just the ID john-doe-123",
            )
        text = unquote(segments[1])
    if not _PROFILE_ID.fullmatch(text):
        raise ConnectSafelyValidationError(
            "recipient_profile_id",
            f"{text!r} is not a profile ID",
            "use the ID from the profile URL, e.g. 'john-doe-123' (no spaces, slashes or colons)",
        )
    return text


def optional_text(name: str, value: Any) -> str | None:
    """None and blank strings mean 'not set'; anything else must be text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConnectSafelyValidationError(
            name, f"expected text, got {type(value).__name__}", f"pass {name} as a string"
        )
    _check_unicode(name, value)
    value = value.strip()
    return value or None


def text_length(text: str) -> int:
    """Length as LinkedIn and the API's JavaScript validation count it (UTF-16 code units):
    a character beyond U+FFFF, such as most emoji, counts 2."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _emoji_note(text: str) -> str:
    return " (an emoji counts as 2)" if text_length(text) != len(text) else ""


def _check_unicode(name: str, value: str) -> None:
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ConnectSafelyValidationError(
            name,
            "it contains an unpaired surrogate (broken Unicode, e.g. text decoded with the wrong codec)",
            "decode the source text as UTF-8, or remove the broken character",
        )


def check_account(value: Any) -> str | None:
    account = optional_text("account_id", value)
    if account is not None and not _PROFILE_ID.fullmatch(account):
        raise ConnectSafelyValidationError(
            "account_id",
            f"{account!r} is not an account ID",
            "use the ID from GET /linkedin/accounts (24 hex characters), or leave it unset",
        )
    return account


def check_urn(name: str, value: str) -> None:
    if not _URN.fullmatch(value):
        raise ConnectSafelyValidationError(
            name,
            f"{value!r} is not a LinkedIn URN",
            "use the form urn:li:<type>:<id>, e.g. urn:li:fsd_profile:ACoAAB...",
        )
