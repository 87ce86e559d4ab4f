"""The connection endpoints: send a connection request, read a relationship.

- ``POST /linkedin/connect`` ``{accountId?, profileId | profileUrn, customMessage?}``: records an
  invitation and answers ``{"success": true, "invitationId", "profileUrn"}`` with
  ``X-RateLimit-*`` headers for the weekly limit. ``customMessage`` over 300 characters is a
  400 ZodError; an already connected profile 400 ``{"success": false, "error": "Already
  connected"}``; a pending invitation 400 ``"Invitation already pending"``; a ``profileId``
  starting with ``unknown-`` 404. Past the weekly limit (default 90 per account, reset Monday
  00:00 UTC, checked first, as for messages) 429 with ``holdUntil`` = the next Monday 00:00 UTC.
- ``GET /linkedin/relationship/{profileId}?accountId``: ``{"success": true, "connected",
  "invitationSent", "invitationReceived", "status": "connected" | "pending" | "none",
  "profileUrn", "accountId"}``. The path may also carry a URL-encoded profile URN.
  ``invitationReceived`` is always false (the emulator has no incoming invitations).
"""

from __future__ import annotations

from .connections import AlreadyConnected, AlreadyInvited
from .profiles import is_unknown, resolve, urn_of
from .replies import Outcome, error_reply, json_reply, validation_reply, zod_reply
from .state import EmulatorState
from .validation import connect_issues


class ConnectionApi:
    """Handlers of the connection endpoints.

    :param state: the shared state.
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def connect(self, _query: dict[str, str], body: object, _params: dict[str, str]) -> Outcome:
        """``POST /linkedin/connect``."""
        if not isinstance(body, dict):
            return Outcome(validation_reply("Request body must be a JSON object"))
        issues = connect_issues(body)
        if issues:
            return Outcome(zod_reply(issues))
        account = self.state.account(body.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        if refusal := self.state.unavailable(account.id):
            return Outcome(error_reply(403, refusal))
        book, now = self.state.connections, self.state.now()
        profile_id = body.get("profileId") or None
        quota = book.weekly(account.id, now)
        if quota.allowed:
            if is_unknown(profile_id):
                return Outcome(error_reply(404, "Recipient profile not found"))
            urn, _participant = resolve(profile_id, body.get("profileUrn") or None)
            try:
                quota, invitation = book.invite(account.id, urn, body.get("customMessage"), now)
            except (AlreadyConnected, AlreadyInvited) as exc:
                return Outcome(error_reply(400, str(exc)))
            if invitation is not None:
                answer = {"success": True, "invitationId": invitation.id, "profileUrn": urn}
                return Outcome(json_reply(200, answer, quota.headers()))
        reset = quota.headers()["X-RateLimit-Reset"]
        payload = {
            "success": False,
            "error": f"Weekly connection request limit reached. Resets at {reset}",
            "holdUntil": reset,
        }
        return Outcome(json_reply(429, payload, quota.headers()))

    def relationship(self, query: dict[str, str], _body: object, params: dict[str, str]) -> Outcome:
        """``GET /linkedin/relationship/{profileId}``."""
        account = self.state.account(query.get("accountId"))
        if account is None:
            return Outcome(error_reply(404, "LinkedIn account not found"))
        profile_id = params["profileId"]
        if is_unknown(profile_id):
            return Outcome(error_reply(404, "Recipient profile not found"))
        urn = urn_of(profile_id)
        answer = {
            "success": True,
            **self.state.connections.relationship(account.id, urn),
            "profileUrn": urn,
            "accountId": account.id,
        }
        return Outcome(json_reply(200, answer))
