"""Where ``connectsafely-ledger`` finds the ledger: a URL, an Airflow connection, or the
default SQLite file the tasks use. It never creates a ledger nor migrates one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_connectsafely.ledger.queries import first_line

if TYPE_CHECKING:
    from airflow_provider_connectsafely.clock import Clock
    from airflow_provider_connectsafely.ledger.store import SendLedger


class CliError(Exception):
    """A problem the command reports as one line on stderr, exiting with status 2."""


def ledger_url(url: str | None, conn_id: str | None) -> str:
    """The SQLAlchemy URL of the ledger to open.

    :param url: an explicit SQLAlchemy URL (``--url``).
    :param conn_id: an Airflow connection naming the ledger (``--ledger-conn-id``).
    :raises CliError: when the connection is not defined or cannot be read.
    """
    if url and conn_id:
        raise CliError("give --url or --ledger-conn-id, not both")
    if url:
        return url
    if conn_id:
        from airflow_provider_connectsafely.ledger.connection import sqlalchemy_url

        try:
            return sqlalchemy_url(conn_id)
        except Exception as exc:  # not defined, or Airflow cannot read its configuration
            raise CliError(f"cannot use connection {conn_id!r}: {first_line(exc)}") from exc
    from airflow_provider_connectsafely.ledger import connection

    path = connection.default_ledger_path()
    if not path.is_file():
        raise CliError(
            f"no ledger at {path} (the default SQLite file; pass --url or --ledger-conn-id "
            "for another ledger)"
        )
    return f"sqlite:///{path}"


def open_ledger(url: str, *, clock: Clock) -> SendLedger:
    """Open the ledger at ``url`` after checking that it exists and has this provider's schema.

    :param url: a SQLAlchemy URL.
    :param clock: what stamps a settlement.
    :raises CliError: no such SQLite file, no ledger tables, another schema version, or a
        database that cannot be reached.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from airflow_provider_connectsafely.ledger.store import SendLedger

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CliError(f"not a SQLAlchemy URL: {first_line(exc)}") from exc
    where = parsed.set(query={}).render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise CliError(f"no ledger at {database or where}")
    _check_schema(url, where)
    try:
        return SendLedger.from_url(url, clock=clock)
    except Exception as exc:  # a missing driver, an old SQLite
        raise CliError(f"cannot open the ledger at {where}: {first_line(exc)}") from exc


def _check_schema(url: str, where: str) -> None:
    """Fail unless the database holds a ledger at this provider's schema version. A plain
    engine, without the ledger's SQLite set-up (which would turn any file into a WAL database)."""
    from sqlalchemy import create_engine

    from airflow_provider_connectsafely.ledger import queries

    try:
        engine = create_engine(url)
    except Exception as exc:  # a missing driver
        raise CliError(f"cannot open the ledger at {where}: {first_line(exc)}") from exc
    try:
        queries.check_readable(engine, where)
    except queries.LedgerNotReadable as exc:
        tail = "; use the provider version that the workers run (a task of this version migrates it)"
        raise CliError(f"{exc}{tail if exc.reason == 'version' else ''}") from exc
    finally:
        engine.dispose()
