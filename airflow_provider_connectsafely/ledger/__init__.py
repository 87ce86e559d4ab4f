"""The send ledger: a durable record of every send, so no message goes out twice.

Imports nothing heavy at module level; SQLAlchemy loads when a ledger is opened.
"""

from __future__ import annotations

from airflow_provider_connectsafely.ledger.records import (
    FAILED,
    PENDING,
    SENT,
    UNKNOWN,
    Claim,
    LedgerEntry,
    NewSend,
)

__all__ = ["FAILED", "PENDING", "SENT", "UNKNOWN", "Claim", "LedgerEntry", "NewSend"]
