"""Which ledger the page reads, and the caps it falls back to. Never creates or migrates a ledger.

The ledger is found as the tasks find it (:mod:`airflow_provider_connectsafely.ledger.locate`):
``[connectsafely] ledger_conn_id``, else the ``connectsafely_default`` connection's
``ledger_conn_id`` extra, else the default SQLite file. The caps shown are those the tasks
recorded with their sends; these fallbacks apply only to an account with none recorded.
"""

from __future__ import annotations

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.locate import LedgerLocation, LedgerUnavailable

__all__ = ["LedgerLocation", "LedgerUnavailable", "daily_cap", "ledger_location"]


def ledger_location() -> LedgerLocation:
    """The ledger of this deployment. Raises :class:`LedgerUnavailable` with a message for
    the page when the configured connection cannot be used."""
    try:
        return locate.locate()
    except LedgerUnavailable:
        raise
    except Exception as exc:  # a named connection that is not defined
        from airflow_provider_connectsafely.ledger.queries import first_line

        raise LedgerUnavailable(f"Cannot use the configured ledger connection: {first_line(exc)}") from exc


def daily_cap() -> int:
    """The ``daily_limit`` extra of ``connectsafely_default`` when readable, else 150: what an
    account with no cap recorded yet is shown against."""
    value = locate.connection_extra(defaults.CONN_ID).get("daily_limit")
    try:
        cap = int(str(value).strip()) if value not in (None, "") else defaults.DAILY_LIMIT
    except ValueError:
        return defaults.DAILY_LIMIT
    return cap if cap >= 0 else defaults.DAILY_LIMIT
