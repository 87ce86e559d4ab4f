"""The emulator's own control endpoints under ``/_emulator`` (no auth: keep the emulator on
loopback), and the scenario actions behind them that ``EmulatorServer`` also offers in Python.

- ``GET /_emulator/messages``: ``{"messages": [...]}``, delivered messages, oldest first.
- ``GET /_emulator/requests``: ``{"requests": [...]}``, every recorded ``/linkedin/*`` request.
- ``GET /_emulator/counts``: ``{"GET /linkedin/conversations": 3, ...}``, requests per method and
  path template (e.g. ``GET /linkedin/conversations/{conversationUrn}/messages``), any outcome.
- ``GET /_emulator/conversations``: ``{"conversations": [...]}``, each with its messages.
- ``GET /_emulator/rate-limit``: the request window (see :mod:`.rate_limit`) and how many
  requests it refused with 429: ``{"enabled": true, "limit", "windowSeconds", "used",
  "remaining", "resetsAt", "refused"}``, or ``{"enabled": false, "refused": 0}``.
- ``POST /_emulator/reset``: clears records, counts, messages, quotas, the request window,
  faults, conversations and invitations (keeps the key, accounts, limits and configured connections).
- ``POST`` / ``GET`` / ``DELETE /_emulator/faults``: queue / list / clear faults (see :mod:`.faults`).
- ``POST /_emulator/reply`` ``{"profileId" or "conversationUrn", "text", "at"?, "accountId"?}``:
  the other person writes; answers ``{"success": true, "message": {...}}``.
- ``POST /_emulator/accept`` ``{"profileId" or "profileUrn", "accountId"?}``: the profile accepts
  the account's pending invitation; answers ``{"success": true, "invitation": {...}}``.

``reply`` appends a message with ``isSentByOwner: false`` (unread until the account writes
again) to the conversation named by ``conversationUrn``, or to the one between the account
(default: the default account) and ``profileId``, creating it if there is none. ``at`` is an
ISO 8601 time (default: the emulator clock's now). Invalid bodies answer 400, an unknown
conversation, account or (for ``accept``) pending invitation 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .clock import as_utc, parse_iso
from .faults import FaultError, fault_from_request
from .profiles import urn_of
from .replies import Reply, error_reply, json_reply
from .state import Account, EmulatorState

PREFIX = "/_emulator"


def reply(
    state: EmulatorState,
    *,
    text: object,
    profile_id: object = None,
    conversation_urn: object = None,
    at: object = None,
    account_id: object = None,
) -> dict[str, Any]:
    """Make the other person write ``text``; returns the new message.

    :raises ValueError: missing or invalid field.
    :raises LookupError: unknown account or conversation.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    moment = state.now() if at is None else as_utc(at) if isinstance(at, datetime) else parse_iso(at)
    if conversation_urn is not None:
        if not isinstance(conversation_urn, str):
            raise ValueError("conversationUrn must be a string")
        owner = None if account_id is None else _account(state, account_id).id
        return state.conversations.post_to(owner, conversation_urn, text, moment, by_owner=False)[1]
    if not isinstance(profile_id, str) or not profile_id:
        raise ValueError("profileId or conversationUrn is required")
    account = _account(state, account_id)
    urn = urn_of(profile_id)
    return state.conversations.post(account.id, urn, profile_id, text, moment, by_owner=False)[1]


def accept(state: EmulatorState, profile: object, account_id: object = None) -> dict[str, Any]:
    """Accept the account's pending invitation to ``profile`` (a profile id or URN).

    :raises ValueError: missing profile.
    :raises LookupError: unknown account or no pending invitation.
    """
    if not isinstance(profile, str) or not profile:
        raise ValueError("profileId is required")
    return state.connections.accept(_account(state, account_id).id, urn_of(profile))


def _account(state: EmulatorState, account_id: object) -> Account:
    if account_id is not None and not isinstance(account_id, str):
        raise ValueError("accountId must be a string")
    account = state.account(account_id)
    if account is None:
        raise LookupError("LinkedIn account not found")
    return account


def handle(state: EmulatorState, method: str, path: str, body: object) -> Reply:
    """Answer one ``/_emulator/*`` request."""
    route = (method, path.rstrip("/"))
    fields = body if isinstance(body, dict) else {}
    try:
        if route == ("GET", PREFIX + "/messages"):
            return json_reply(200, {"messages": state.messages()})
        if route == ("GET", PREFIX + "/requests"):
            return json_reply(200, {"requests": state.requests()})
        if route == ("GET", PREFIX + "/counts"):
            return json_reply(200, state.request_counts())
        if route == ("GET", PREFIX + "/conversations"):
            return json_reply(200, {"conversations": state.conversations.snapshot()})
        if route == ("GET", PREFIX + "/rate-limit"):
            return json_reply(200, state.rate_limit())
        if route == ("POST", PREFIX + "/reset"):
            state.reset()
            return json_reply(200, {"success": True})
        if route == ("GET", PREFIX + "/faults"):
            return json_reply(200, {"faults": state.pending_faults()})
        if route == ("DELETE", PREFIX + "/faults"):
            return json_reply(200, {"success": True, "cleared": state.clear_faults()})
        if route == ("POST", PREFIX + "/faults"):
            fault = fault_from_request(body)
            state.queue_fault(fault)
            return json_reply(200, {"success": True, "fault": fault.to_dict()})
        if route == ("POST", PREFIX + "/reply"):
            message = reply(
                state,
                text=fields.get("text"),
                profile_id=fields.get("profileId"),
                conversation_urn=fields.get("conversationUrn"),
                at=fields.get("at"),
                account_id=fields.get("accountId"),
            )
            return json_reply(200, {"success": True, "message": message})
        if route == ("POST", PREFIX + "/account"):
            account = _account(state, fields.get("accountId"))
            if not isinstance(fields.get("status"), str) or not fields["status"]:
                raise ValueError("status is required")
            state.set_status(account.id, fields["status"])
            return json_reply(200, {"success": True, "accountId": account.id, "status": fields["status"]})
        if route == ("POST", PREFIX + "/accept"):
            profile = fields.get("profileId") or fields.get("profileUrn")
            invitation = accept(state, profile, fields.get("accountId"))
            return json_reply(200, {"success": True, "invitation": invitation})
    except FaultError as exc:
        return error_reply(400, str(exc))
    except LookupError as exc:
        return error_reply(404, str(exc.args[0]) if exc.args else "Not found")
    except ValueError as exc:
        return error_reply(400, str(exc))
    return error_reply(404, f"Route {method} {path} not found")
