"""A local emulator of the ConnectSafely API, for tests and demos (see ``server`` and ``faults``).

Recipient convention: a ``recipientProfileId`` starting with ``unknown-`` answers
404 ``Recipient profile not found``, so tests can provoke a per-recipient 404 deterministically.
"""

from __future__ import annotations

from .server import EmulatorServer, create_server

__all__ = ["EmulatorServer", "create_server"]
