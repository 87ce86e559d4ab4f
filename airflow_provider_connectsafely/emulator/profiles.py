"""LinkedIn profile identities as the emulator knows them: ids, derived URNs, unknown profiles.

A profile is identified by its URN. A profile id maps to a deterministic URN
(:func:`profile_urn`); a request that names a profile only by URN keeps that URN.
"""

from __future__ import annotations

import base64
import hashlib

UNKNOWN_RECIPIENT_PREFIX = "unknown-"
"""Profile ids starting with this answer 404 ``Recipient profile not found``."""
URN_PREFIX = "urn:li:"


def profile_urn(profile_id: str) -> str:
    """The deterministic URN the emulator assigns to a profile id."""
    digest = base64.b32encode(hashlib.sha256(profile_id.encode()).digest()).decode()
    return f"urn:li:fsd_profile:ACoAA{digest[:20]}"


def urn_of(identifier: str) -> str:
    """The URN of a profile named by id or, if it looks like one (``urn:li:...``), by URN."""
    return identifier if identifier.startswith(URN_PREFIX) else profile_urn(identifier)


def resolve(profile_id: str | None, urn: str | None) -> tuple[str, str]:
    """The ``(urn, participant id)`` of a profile named by id and/or URN (at least one).

    A given URN wins, as in the send answers; the participant id is the profile id, or the URN
    when only that is known.
    """
    if urn:
        return urn, profile_id or urn
    if not profile_id:
        raise ValueError("a profile id or URN is required")
    return profile_urn(profile_id), profile_id


def is_unknown(profile_id: str | None) -> bool:
    """Whether the emulator treats this profile id as not found (see :data:`UNKNOWN_RECIPIENT_PREFIX`)."""
    return bool(profile_id) and str(profile_id).startswith(UNKNOWN_RECIPIENT_PREFIX)
