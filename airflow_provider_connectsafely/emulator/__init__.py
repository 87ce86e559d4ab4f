"""A local emulator of the ConnectSafely API, for tests and demos (see ``server`` and ``faults``).

Recipient convention: a ``recipientProfileId`` starting with ``unknown-`` answers
404 ``Recipient profile not found``, so tests can provoke a per-recipient 404 deterministically.

Besides the send endpoints it keeps conversations (``conversations``: every delivered message
joins the thread between the account and the recipient), reads them back
(``conversation_reads``), records connection requests (``connections``, ``connection_api``),
and offers control endpoints under ``/_emulator`` to script the other side: replies,
accepted invitations, request counts (``control``). Pass a :class:`ManualClock` as ``clock``
to control ``sentAt``, ``since`` and the daily and weekly resets without sleeping. A per-key
request rate (``rate_limit``, ``rate_window``; off by default) answers 429 past it
(``rate_limit``).
"""

from __future__ import annotations

from .clock import ManualClock
from .server import EmulatorServer, create_server

__all__ = ["EmulatorServer", "ManualClock", "create_server"]
