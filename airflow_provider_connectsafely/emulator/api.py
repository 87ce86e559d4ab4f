"""The emulated ConnectSafely endpoints, as pure request-to-:class:`Outcome` logic: the router,
the account endpoints and the three send endpoints.

Conventions beyond the real API:

- A ``recipientProfileId`` starting with ``unknown-`` (e.g. ``unknown-jane``) answers
  404 ``{"success": false, "error": "Recipient profile not found"}`` and is not delivered:
  it lets tests provoke a per-recipient 404 deterministically.
- The ``recipientProfileUrn`` of a success is derived from the profile id (see
  :func:`profile_urn`), or echoed when the request gave one.
- Each account may deliver ``daily_limit`` messages per UTC day, whichever send endpoint it
  uses; past that, sends answer 429 with ``holdUntil`` and ``X-RateLimit-*`` headers, the reset
  being the next 00:00 UTC. Over quota is answered before looking up the recipient.
- Every delivered message creates or extends the conversation between the account and the
  recipient (see :mod:`.conversations`). ``POST /linkedin/conversations/send`` answers with its
  ``conversationUrn``, ``threadId`` and ``sentMessage``; the older ``/linkedin/messaging/send*``
  answers carry ``conversationUrn`` and ``threadId`` only when the emulator was started with
  ``thread_in_send_answers`` (the documented API returns neither).
- ``send-with-typing`` accepts any ``conversationUrn`` (it only says where to show typing): the
  message joins the conversation with the recipient.

The conversation, message, connection and relationship reads live in :mod:`.conversation_reads`
and :mod:`.connection_api`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .connection_api import ConnectionApi
from .conversation_reads import ConversationReads
from .profiles import UNKNOWN_RECIPIENT_PREFIX, is_unknown, profile_urn, resolve
from .quota import Quota
from .replies import Outcome, error_reply, json_reply, validation_reply, zod_reply
from .routes import (
    ACCOUNT_STATUS,
    ACCOUNTS,
    CONNECT,
    CONVERSATION_MESSAGES,
    CONVERSATION_SEND,
    CONVERSATIONS,
    RECENT_MESSAGES,
    RELATIONSHIP,
    SEND,
    SEND_PATHS,
    SEND_WITH_TYPING,
    match,
)
from .state import EmulatorState
from .validation import conversation_send_issues, send_issues

Handler = Callable[[dict[str, str], object, dict[str, str]], Outcome]

__all__ = ["SEND", "SEND_PATHS", "SEND_WITH_TYPING", "UNKNOWN_RECIPIENT_PREFIX", "LinkedInApi", "profile_urn"]


class LinkedInApi:
    """Handles ``/linkedin/*`` requests against an :class:`EmulatorState`.

    :param state: the shared state (accounts, quotas, conversations, connections).
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        reads = ConversationReads(state)
        connections = ConnectionApi(state)
        self._routes: dict[str, dict[str, Handler]] = {
            ACCOUNTS: {"GET": self._accounts},
            ACCOUNT_STATUS: {"GET": self._account_status},
            SEND: {"POST": lambda _q, body, _p: self._send(body, SEND)},
            SEND_WITH_TYPING: {"POST": lambda _q, body, _p: self._send(body, SEND_WITH_TYPING)},
            CONVERSATION_SEND: {"POST": lambda _q, body, _p: self._conversation_send(body)},
            CONVERSATIONS: {"GET": reads.conversations},
            CONVERSATION_MESSAGES: {"GET": reads.messages},
            RECENT_MESSAGES: {"GET": reads.recent_messages},
            CONNECT: {"POST": connections.connect},
            RELATIONSHIP: {"GET": connections.relationship},
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: object) -> Outcome:
        """Answer one authorized request (``body`` is parsed JSON, raw text or ``None``)."""
        found = match(path)
        if found is None:
            return Outcome(error_reply(404, f"Route {method} {path} not found"))
        template, params = found
        methods = self._routes[template]
        handler = methods.get(method)
        if handler is None:
            return Outcome(error_reply(405, "Method not allowed", {"Allow": ", ".join(methods)}))
        return handler(query, body, params)

    def _accounts(self, _query: dict[str, str], _body: object, _params: dict[str, str]) -> Outcome:
        accounts = [{**a.to_dict(), "status": self.state.status_of(a.id)} for a in self.state.accounts]
        return Outcome(json_reply(200, {"success": True, "accounts": accounts}))

    def _account_status(self, query: dict[str, str], _body: object, _params: dict[str, str]) -> Outcome:
        account = self.state.account(query.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        quota = self.state.quota(account.id)
        payload = {
            "success": True,
            "accountId": account.id,
            "name": account.name,
            "status": self.state.status_of(account.id),
            "isDefault": account.is_default,
            "dailyLimit": quota.limit,
            "messagesSentToday": quota.used,
            "messagesRemainingToday": max(0, quota.limit - quota.used),
        }
        return Outcome(json_reply(200, payload))

    def _send(self, body: object, endpoint: str) -> Outcome:
        typing = endpoint == SEND_WITH_TYPING
        if not isinstance(body, dict):
            return Outcome(validation_reply("Request body must be a JSON object"))
        issues = send_issues(body, with_conversation=typing)
        if issues:
            return Outcome(zod_reply(issues))
        account = self.state.account(body.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        if refusal := self.state.unavailable(account.id):
            return Outcome(error_reply(403, refusal))
        profile_id: str | None = body.get("recipientProfileId") or None
        # The real API refuses over-quota sends before asking LinkedIn about the recipient.
        quota = self.state.quota(account.id)
        if quota.allowed:
            if is_unknown(profile_id):
                return Outcome(error_reply(404, "Recipient profile not found"))
            quota = self.state.quota(account.id, consume=True)
        if not quota.allowed:
            return _over_quota(quota)
        urn, participant = resolve(profile_id, body.get("recipientProfileUrn") or None)
        conversation, _sent = self.state.conversations.post(
            account.id, urn, participant, body["message"], self.state.now(), by_owner=True
        )
        answer: dict[str, Any] = {
            "success": True,
            "message": "Message sent successfully",
            "recipientProfileUrn": urn,
        }
        if self.state.thread_in_send_answers:
            answer["conversationUrn"] = conversation["conversationUrn"]
            answer["threadId"] = conversation["threadId"]
        if typing:
            answer["typingIndicatorSent"] = True
        message = {
            "endpoint": endpoint,
            "accountId": account.id,
            "recipientProfileId": profile_id,
            "recipientProfileUrn": urn,
            "message": body["message"],
            "subject": body.get("subject"),
            "messageType": body.get("messageType", "normal"),
            "conversationUrn": body.get("conversationUrn") if typing else None,
        }
        return Outcome(json_reply(200, answer, quota.headers()), message)

    def _conversation_send(self, body: object) -> Outcome:
        if not isinstance(body, dict):
            return Outcome(validation_reply("Request body must be a JSON object"))
        issues = conversation_send_issues(body)
        if issues:
            return Outcome(zod_reply(issues))
        account = self.state.account(body.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        if refusal := self.state.unavailable(account.id):
            return Outcome(error_reply(403, refusal))
        conversation_urn: str | None = body.get("conversationUrn") or None
        profile_id: str | None = None if conversation_urn else body.get("recipientProfileId") or None
        store = self.state.conversations
        quota = self.state.quota(account.id)
        if quota.allowed:
            if conversation_urn and store.find(account.id, conversation_urn) is None:
                return Outcome(error_reply(404, "Conversation not found"))
            if is_unknown(profile_id):
                return Outcome(error_reply(404, "Recipient profile not found"))
            quota = self.state.quota(account.id, consume=True)
        if not quota.allowed:
            return _over_quota(quota)
        now = self.state.now()
        if conversation_urn:
            try:
                conversation, sent = store.post_to(
                    account.id, conversation_urn, body["message"], now, by_owner=True
                )
            except LookupError:  # reset while this request was handled
                return Outcome(error_reply(404, "Conversation not found"))
        else:
            urn, participant = resolve(profile_id, body.get("recipientProfileUrn") or None)
            conversation, sent = store.post(account.id, urn, participant, body["message"], now, by_owner=True)
        urn = conversation["recipientProfileUrn"]
        answer = {
            "success": True,
            "message": "Message sent successfully",
            "recipientProfileUrn": urn,
            "threadId": conversation["threadId"],
            "conversationUrn": conversation["conversationUrn"],
            "sentMessage": {k: sent[k] for k in ("messageUrn", "text", "sentAt")},
        }
        participant = conversation["participants"][0]
        message = {
            "endpoint": CONVERSATION_SEND,
            "accountId": account.id,
            "recipientProfileId": None if participant == urn else participant,
            "recipientProfileUrn": urn,
            "message": body["message"],
            "subject": body.get("subject"),
            "messageType": "normal",
            "conversationUrn": conversation["conversationUrn"],
            "messagingChannel": body.get("messagingChannel", "auto"),
            "attachments": body.get("attachments", []),
        }
        return Outcome(json_reply(200, answer, quota.headers()), message)


def _over_quota(quota: Quota) -> Outcome:
    reset = quota.headers()["X-RateLimit-Reset"]
    error = f"Daily message limit reached. Resets at {reset}"
    payload = {"success": False, "error": error, "holdUntil": reset}
    return Outcome(json_reply(429, payload, quota.headers()))
