"""Which ledger the page reads, and the daily cap it shows. Never creates or migrates a ledger.

The ledger: ``[connectsafely] ledger_conn_id`` in Airflow's configuration (environment
``AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID``); else the ``ledger_conn_id`` extra of the
``connectsafely_default`` connection (what the tasks use when told nothing); else the default
SQLite file ``$AIRFLOW_HOME/connectsafely_ledger.sqlite``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.clock import Clock, utc_now
from airflow_provider_connectsafely.ledger.queries import first_line

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

_OPEN: dict[str, SendLedger] = {}
_LOCK = threading.Lock()


class LedgerUnavailable(Exception):
    """The ledger cannot be read: missing, not reachable, or at another schema version."""


def configured_conn_id() -> str | None:
    """The ledger connection: Airflow config first, then the default connection's extra."""
    try:
        from airflow.configuration import conf

        value = conf.get("connectsafely", "ledger_conn_id", fallback=None)
    except Exception:  # no Airflow configuration (plain unit tests)
        value = None
    if value and str(value).strip():
        return str(value).strip()
    extra = _default_connection_extra()
    found = str(extra.get("ledger_conn_id") or "").strip()
    return found or None


def daily_cap() -> int:
    """The ``daily_limit`` extra of ``connectsafely_default`` when readable, else 150."""
    value = _default_connection_extra().get("daily_limit")
    try:
        cap = int(str(value).strip()) if value not in (None, "") else defaults.DAILY_LIMIT
    except ValueError:
        return defaults.DAILY_LIMIT
    return cap if cap >= 0 else defaults.DAILY_LIMIT


def _default_connection_extra() -> dict[str, Any]:
    """The default connection's extra (never its password); empty when it cannot be read."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(defaults.CONN_ID)
        extra = conn.extra_dejson
    except Exception:  # not defined, or no Airflow: the page still works, with the defaults
        return {}
    return extra if isinstance(extra, dict) else {}


def ledger_url() -> str:
    """The SQLAlchemy URL of the ledger to read (it may hold a password: never show it)."""
    conn_id = configured_conn_id()
    if conn_id:
        from airflow_provider_connectsafely.ledger.connection import sqlalchemy_url

        try:
            return sqlalchemy_url(conn_id)
        except Exception as exc:
            raise LedgerUnavailable(f"cannot use ledger connection {conn_id!r}: {first_line(exc)}") from exc
    from airflow_provider_connectsafely.ledger.connection import default_ledger_path

    return f"sqlite:///{default_ledger_path()}"


def open_ledger(url: str, clock: Clock = utc_now) -> SendLedger:
    """The ledger at ``url``, checked to exist at this provider's schema version (one query
    per call once open). Raises :class:`LedgerUnavailable` with a message for the page.

    :param clock: what stamps a settlement.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    where = parsed.set(query={}).render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or not Path(database).is_file():
            raise LedgerUnavailable(
                f"No send ledger at {database or where} yet: the first send creates it. "
                "If the tasks use another ledger, set [connectsafely] ledger_conn_id "
                "(AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID) for the API server."
            )
    with _LOCK:
        ledger = _OPEN.get(url)
        if ledger is None:
            _check(_plain_engine(url), where, dispose=True)  # before the ledger's SQLite set-up
            from airflow_provider_connectsafely.ledger.store import SendLedger

            ledger = SendLedger.from_url(
                url, clock=clock, pool_pre_ping=parsed.get_backend_name() != "sqlite"
            )
            _OPEN[url] = ledger
    _check(ledger.engine, where)
    # Checked at HEAD just now: SendLedger.resolve must not try to migrate anything.
    ledger._schema_ready = True
    return ledger


def close_all() -> None:
    with _LOCK:
        for ledger in _OPEN.values():
            ledger.close()
        _OPEN.clear()


def _plain_engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url)


def _check(engine: Any, where: str, *, dispose: bool = False) -> None:
    from airflow_provider_connectsafely.ledger import queries

    try:
        queries.check_readable(engine, where)
    except queries.LedgerNotReadable as exc:
        text = str(exc)
        if exc.reason == "version":
            text += (
                ". The page never migrates it: a task of this provider version does, on its first "
                "send (or install the provider version the workers run)"
            )
        raise LedgerUnavailable(f"{text[0].upper()}{text[1:]}.") from exc
    finally:
        if dispose:
            engine.dispose()
