"""The conversations send request (``POST /linkedin/conversations/send``), and the choice of
send endpoint. No Airflow imports here.

The request is a :class:`~airflow_provider_connectsafely.api.models.MessageRequest`, so the
ledger, the daily cap and the batch loop treat it as any other send: at most once, never
retried after it may have gone out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_provider_connectsafely.api.models import (
    MessageLimits,
    MessageRequest,
    check_account,
    check_message,
    check_recipient,
    check_subject,
    check_urn,
    optional_text,
)
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

CONVERSATION_SEND_PATH = "/linkedin/conversations/send"
#: ``messaging``: ``/linkedin/messaging/send`` (or ``send-with-typing``), the default;
#: ``conversations``: ``/linkedin/conversations/send``.
ENDPOINTS = ("messaging", "conversations")
MESSAGING_CHANNELS = ("auto", "sales_navigator", "linkedin_inbox")
_NO_MESSAGE_TYPE = (
    "the conversations endpoint takes no message type (no InMail)",
    "leave message_type as 'normal' (pick the inbox with messaging_channel), or use "
    "endpoint='messaging' for InMail",
)


def check_endpoint(endpoint: Any, message_type: Any = None) -> str:
    """Return the endpoint name, checked (operators call this when a DAG is parsed).

    :param endpoint: ``"messaging"`` or ``"conversations"``.
    :param message_type: when given, also refuse InMail with the conversations endpoint.
    :raises ConnectSafelyValidationError: (a ``ValueError``) naming the field and the fix.
    """
    if endpoint not in ENDPOINTS:
        raise ConnectSafelyValidationError(
            "endpoint",
            f"{endpoint!r} is not a send endpoint",
            "use 'messaging' (POST /linkedin/messaging/send, the default) or 'conversations' "
            "(POST /linkedin/conversations/send)",
        )
    if (
        endpoint == "conversations"
        and isinstance(message_type, str)
        and message_type.strip().lower() == "inmail"
    ):
        raise ConnectSafelyValidationError("message_type", *_NO_MESSAGE_TYPE)
    return str(endpoint)


@dataclass(frozen=True)
class ConversationSendRequest(MessageRequest):
    """A validated ``POST /linkedin/conversations/send``; build it with :meth:`build_conversation`.

    Besides the fields of :class:`MessageRequest`: ``conversation_urn`` names an existing
    conversation and replaces the recipient.

    :param attachments: attachments, sent as given (the API does not document their shape).
    :param messaging_channel: ``auto``, ``sales_navigator`` or ``linkedin_inbox`` (API default
        when None).
    """

    attachments: tuple[Any, ...] = ()
    messaging_channel: str | None = None

    @classmethod
    def build_conversation(
        cls,
        *,
        message: Any,
        recipient_profile_id: Any = None,
        recipient_profile_urn: Any = None,
        conversation_urn: Any = None,
        subject: Any = None,
        message_type: Any = "normal",
        account_id: Any = None,
        attachments: Any = None,
        messaging_channel: Any = None,
        typing_indicator: Any = False,
        limits: MessageLimits | dict[str, int] | None = None,
    ) -> ConversationSendRequest:
        """Validate raw (for example, rendered template) values and return a request.

        :raises ConnectSafelyValidationError: naming the first wrong field and the fix.
        """
        limits = MessageLimits.coerce(limits)
        conversation = optional_text("conversation_urn", conversation_urn)
        profile_id, profile_urn = check_recipient(
            recipient_profile_id, recipient_profile_urn, required=conversation is None
        )
        if conversation is not None:
            if profile_id or profile_urn:
                raise ConnectSafelyValidationError(
                    "conversation_urn",
                    "both a conversation and a recipient are given",
                    "give conversation_urn (an existing conversation) or a recipient, not both",
                )
            check_urn("conversation_urn", conversation)
        kind = (optional_text("message_type", message_type) or "normal").lower()
        if kind != "normal":
            raise ConnectSafelyValidationError("message_type", *_NO_MESSAGE_TYPE)
        if typing_indicator is not False:
            raise ConnectSafelyValidationError(
                "typing_indicator",
                "the conversations endpoint shows no typing indicator",
                "drop typing_indicator, or use endpoint='messaging'",
            )
        check_message(message, kind, limits)
        subject_text = optional_text("subject", subject)
        check_subject(subject_text, limits)
        return cls(
            message=message,
            recipient_profile_id=profile_id,
            recipient_profile_urn=profile_urn,
            subject=subject_text,
            account_id=check_account(account_id),
            conversation_urn=conversation,
            limits=limits,
            attachments=_attachments(attachments),
            messaging_channel=_channel(messaging_channel),
        )

    @property
    def recipient(self) -> str:
        """The recipient as given, or else the conversation URN."""
        return super().recipient or self.conversation_urn or ""

    @property
    def path(self) -> str:
        return CONVERSATION_SEND_PATH

    def to_body(self) -> dict[str, Any]:
        """The JSON body, named as the API names fields; unset optional fields omitted."""
        body: dict[str, Any] = {
            "accountId": self.account_id,
            "recipientProfileId": self.recipient_profile_id,
            "recipientProfileUrn": self.recipient_profile_urn,
            "conversationUrn": self.conversation_urn,
            "message": self.message,
            "subject": self.subject,
            "attachments": list(self.attachments) or None,
            "messagingChannel": self.messaging_channel,
        }
        return {key: value for key, value in body.items() if value is not None}


def build_send_request(
    *,
    endpoint: Any = "messaging",
    attachments: Any = None,
    messaging_channel: Any = None,
    **fields: Any,
) -> MessageRequest:
    """Validate a send for ``endpoint``; ``fields`` are those of :meth:`MessageRequest.build`.

    :param endpoint: ``"messaging"`` (default) or ``"conversations"``.
    :param attachments: conversations endpoint only: a list of attachments.
    :param messaging_channel: conversations endpoint only: ``auto``, ``sales_navigator`` or
        ``linkedin_inbox``.
    :raises ConnectSafelyValidationError: naming the first wrong field and the fix.
    """
    if check_endpoint(endpoint) == "conversations":
        return ConversationSendRequest.build_conversation(
            attachments=attachments, messaging_channel=messaging_channel, **fields
        )
    has_recipient = fields.get("recipient_profile_id") or fields.get("recipient_profile_urn")
    if fields.get("conversation_urn") and not has_recipient and not fields.get("typing_indicator"):
        raise ConnectSafelyValidationError(
            "conversation_urn",
            "a conversation replaces the recipient only with the conversations endpoint",
            "set endpoint='conversations', or give recipient_profile_id / recipient_profile_urn",
        )
    for name, value in (("attachments", attachments), ("messaging_channel", messaging_channel)):
        if value is not None and value != [] and value != "":
            raise ConnectSafelyValidationError(
                name,
                "only the conversations endpoint takes it",
                f"set endpoint='conversations', or drop {name}",
            )
    return MessageRequest.build(**fields)


def _channel(value: Any) -> str | None:
    channel = optional_text("messaging_channel", value)
    if channel is None:
        return None
    if channel.lower() not in MESSAGING_CHANNELS:
        raise ConnectSafelyValidationError(
            "messaging_channel",
            f"{channel!r} is not a messaging channel",
            "use 'auto', 'sales_navigator' or 'linkedin_inbox' (or leave it unset)",
        )
    return channel.lower()


def _attachments(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ConnectSafelyValidationError(
            "attachments", f"expected a list, got {type(value).__name__}", "pass a list (or leave it unset)"
        )
    for index, item in enumerate(value):
        if not isinstance(item, str | dict):
            raise ConnectSafelyValidationError(
                "attachments",
                f"item {index} is {type(item).__name__}",
                "give each attachment as a string (e.g. a URL) or a dict",
            )
    try:
        json.dumps(list(value))
    except (TypeError, ValueError) as exc:
        raise ConnectSafelyValidationError(
            "attachments", f"it cannot be sent as JSON ({exc})", "use only strings, numbers, lists and dicts"
        ) from None
    return tuple(value)
