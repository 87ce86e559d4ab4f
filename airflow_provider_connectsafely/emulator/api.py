"""The emulated ConnectSafely endpoints, as pure request-to-:class:`Outcome` logic.

Conventions beyond the real API:

- A ``recipientProfileId`` starting with ``unknown-`` (e.g. ``unknown-jane``) answers
  404 ``{"success": false, "error": "Recipient profile not found"}`` and is not delivered:
  it lets tests provoke a per-recipient 404 deterministically.
- The ``recipientProfileUrn`` of a success is derived from the profile id (see
  :func:`profile_urn`), or echoed when the request gave one.
- Each account may deliver ``daily_limit`` messages per UTC day; past that, sends answer 429
  with ``holdUntil`` and ``X-RateLimit-*`` headers, the reset being the next 00:00 UTC.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from .replies import Outcome, error_reply, json_reply, validation_reply, zod_reply
from .state import EmulatorState
from .validation import send_issues

SEND = "/linkedin/messaging/send"
SEND_WITH_TYPING = "/linkedin/messaging/send-with-typing"
SEND_PATHS = (SEND, SEND_WITH_TYPING)
UNKNOWN_RECIPIENT_PREFIX = "unknown-"


def profile_urn(profile_id: str) -> str:
    """The deterministic URN the emulator assigns to a recipient profile id."""
    digest = base64.b32encode(hashlib.sha256(profile_id.encode()).digest()).decode()
    return f"urn:li:fsd_profile:ACoAA{digest[:20]}"


class LinkedInApi:
    """Handles ``/linkedin/*`` requests against an :class:`EmulatorState`.

    :param state: the shared state (accounts, quotas).
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._routes: dict[str, dict[str, Callable[[dict[str, str], object], Outcome]]] = {
            "/linkedin/accounts": {"GET": self._accounts},
            "/linkedin/account/status": {"GET": self._account_status},
            SEND: {"POST": lambda _q, body: self._send(body, SEND)},
            SEND_WITH_TYPING: {"POST": lambda _q, body: self._send(body, SEND_WITH_TYPING)},
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: object) -> Outcome:
        """Answer one authorized request (``body`` is parsed JSON, raw text or ``None``)."""
        methods = self._routes.get(path)
        if methods is None:
            return Outcome(error_reply(404, f"Route {method} {path} not found"))
        handler = methods.get(method)
        if handler is None:
            return Outcome(error_reply(405, "Method not allowed", {"Allow": ", ".join(methods)}))
        return handler(query, body)

    def _accounts(self, _query: dict[str, str], _body: object) -> Outcome:
        accounts = [a.to_dict() for a in self.state.accounts]
        return Outcome(json_reply(200, {"success": True, "accounts": accounts}))

    def _account_status(self, query: dict[str, str], _body: object) -> Outcome:
        account = self.state.account(query.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        quota = self.state.quota(account.id)
        payload = {
            "success": True,
            "accountId": account.id,
            "name": account.name,
            "status": "active",
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
        profile_id: str | None = body.get("recipientProfileId") or None
        # The real API refuses over-quota sends before asking LinkedIn about the recipient.
        quota = self.state.quota(account.id)
        if quota.allowed:
            if profile_id is not None and profile_id.startswith(UNKNOWN_RECIPIENT_PREFIX):
                return Outcome(error_reply(404, "Recipient profile not found"))
            quota = self.state.quota(account.id, consume=True)
        if not quota.allowed:
            reset = quota.headers()["X-RateLimit-Reset"]
            error = f"Daily message limit reached. Resets at {reset}"
            payload = {"success": False, "error": error, "holdUntil": reset}
            return Outcome(json_reply(429, payload, quota.headers()))
        urn = body.get("recipientProfileUrn") or profile_urn(body["recipientProfileId"])
        answer: dict[str, Any] = {
            "success": True,
            "message": "Message sent successfully",
            "recipientProfileUrn": urn,
        }
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
