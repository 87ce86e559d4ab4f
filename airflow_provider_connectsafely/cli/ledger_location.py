"""Where ``connectsafely-ledger`` finds the ledger: the provider's one locator
(:mod:`airflow_provider_connectsafely.ledger.locate`), with ``--url`` / ``--ledger-conn-id`` as
its explicit argument. Reading commands never create nor migrate a ledger; ``upgrade`` does.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from airflow_provider_connectsafely.ledger.queries import first_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airflow_provider_connectsafely.clock import Clock
    from airflow_provider_connectsafely.ledger.locate import LedgerLocation
    from airflow_provider_connectsafely.ledger.store import SendLedger


class CliError(Exception):
    """A problem the command reports as one line on stderr, exiting with status 2."""


def find(url: str | None, conn_id: str | None) -> LedgerLocation:
    """The ledger the command works on, by the provider's precedence; a note on stderr when it
    is the default SQLite file while a ConnectSafely connection names another ledger.

    :param url: an explicit SQLAlchemy URL (``--url``).
    :param conn_id: an explicit Airflow connection naming the ledger (``--ledger-conn-id``).
    :raises CliError: both given, or a named connection that is not defined or readable.
    """
    from airflow_provider_connectsafely.ledger import locate

    if url and conn_id:
        raise CliError("give --url or --ledger-conn-id, not both")
    try:
        location = locate.locate(conn_id, url=url)
    except locate.LedgerUnavailable as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:  # not defined, or Airflow cannot read its configuration
        raise CliError(f"cannot use connection {conn_id!r}: {first_line(exc)}") from exc
    notice = locate.fallback_notice(location)
    if notice:
        print(f"connectsafely-ledger: {notice}", file=sys.stderr)
    return location


def open_ledger(location: LedgerLocation, *, clock: Clock) -> SendLedger:
    """The existing ledger at ``location``, checked to have this provider's schema.

    :param location: from :func:`find`.
    :param clock: what stamps a settlement.
    :raises CliError: no such ledger, not reachable, or another schema version.
    """
    from airflow_provider_connectsafely.ledger import locate
    from airflow_provider_connectsafely.ledger.locate import DEFAULT

    try:
        return locate.open_existing(location, clock)
    except locate.LedgerUnavailable as exc:
        text = str(exc).rstrip(".")
        if exc.reason == "missing" and location.source == DEFAULT:
            text += "; pass --url or --ledger-conn-id for another ledger"
        raise CliError(f"{text[0].lower()}{text[1:]}") from exc


def open_for_upgrade(location: LedgerLocation) -> SendLedger:
    """The ledger at ``location`` for ``upgrade``: not checked, not cached. A SQLite file that
    does not exist is created only when named explicitly (``--url`` or ``--ledger-conn-id``),
    never by falling back to the default file.

    :raises CliError: no such SQLite file, or the database cannot be opened.
    """
    from airflow_provider_connectsafely.ledger.store import SendLedger

    _require_file(location)
    try:
        return SendLedger.from_url(location.url)
    except Exception as exc:  # a missing driver, an old SQLite
        raise CliError(f"cannot open the ledger at {location.where}: {first_line(exc)}") from exc


def plain_engine(location: LedgerLocation) -> Engine:
    """A bare engine on the ledger, for reading its version: it writes nothing, not even
    the SQLite journal mode the ledger sets."""
    from sqlalchemy import create_engine

    _require_file(location)
    try:
        return create_engine(location.url)
    except Exception as exc:  # a missing driver
        raise CliError(f"cannot open the ledger at {location.where}: {first_line(exc)}") from exc


def _require_file(location: LedgerLocation) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from airflow_provider_connectsafely.ledger.locate import ARGUMENT

    parsed = make_url(location.url)
    if parsed.get_backend_name() == "sqlite" and location.source != ARGUMENT:
        database = parsed.database or ""
        if not Path(database).is_file():
            raise CliError(
                f"no ledger at {database} ({location.describe()}); the first send creates it, or "
                "name one with --url / --ledger-conn-id"
            )
