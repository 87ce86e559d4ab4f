"""Opening the ledger from Airflow configuration: a connection, or a SQLite file by default."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

DEFAULT_FILE = "connectsafely_ledger.sqlite"
# Executors that run every task on the scheduler's machine, where one SQLite file is shared.
_SINGLE_MACHINE_EXECUTORS = {"LocalExecutor", "SequentialExecutor", "DebugExecutor"}
_OPEN: dict[str, SendLedger] = {}


def default_ledger_path() -> Path:
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / DEFAULT_FILE


def open_ledger(ledger_conn_id: str | None, log: logging.Logger | Any) -> SendLedger:
    """The ledger named by an Airflow connection, or the default SQLite file.

    Ledgers are cached per process, so a worker reuses one engine (and its pool).
    """
    from airflow_provider_connectsafely.ledger.store import SendLedger

    if ledger_conn_id:
        url = sqlalchemy_url(ledger_conn_id)
        if url not in _OPEN:
            _OPEN[url] = SendLedger.from_url(url, pool_pre_ping=True)
        return _OPEN[url]
    path = default_ledger_path()
    key = f"default:{path}"
    if key not in _OPEN:
        _OPEN[key] = SendLedger.sqlite(path)
        _warn_if_distributed(log, path)
    return _OPEN[key]


def sqlalchemy_url(conn_id: str) -> str:
    """A SQLAlchemy URL from an Airflow connection: its ``sqlalchemy_url`` extra, or built
    from its type, host, port, login, password and schema (database)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret
    from sqlalchemy.engine import URL, make_url

    from airflow_provider_connectsafely.api.errors import ConnectSafelyConfigError
    from airflow_provider_connectsafely.compat import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ConnectSafelyConfigError(
            f"Ledger connection {conn_id!r} is not defined. Fix: create it (e.g. a postgres "
            "connection), or set ledger_conn_id to an existing one"
        ) from exc
    if conn.password:
        mask_secret(conn.password)
    explicit = conn.extra_dejson.get("sqlalchemy_url")
    if explicit:
        explicit_url = make_url(str(explicit))
        for secret in (explicit_url.password, explicit_url.query.get("password")):
            if isinstance(secret, str) and secret:
                mask_secret(secret)
        return str(explicit)
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    drivers = {"postgres": _postgres_driver(), "postgresql": _postgres_driver(), "mysql": "mysql+pymysql"}
    url = URL.create(
        drivers.get(conn_type, conn_type),
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
    )
    return url.render_as_string(hide_password=False)


def _postgres_driver() -> str:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "postgresql+psycopg2"
    return "postgresql+psycopg"


def _warn_if_distributed(log: logging.Logger | Any, path: Path) -> None:
    try:
        from airflow.configuration import conf

        executor = str(conf.get("core", "executor", fallback="") or "")
    except Exception:  # configuration unavailable (plain unit tests): nothing to warn about
        return
    names = {name.strip().split(".")[-1] for name in executor.split(",") if name.strip()}
    names = {name.split(":")[-1] for name in names}
    if names and not names <= _SINGLE_MACHINE_EXECUTORS:
        log.warning(
            "The send ledger is the default SQLite file %s, but the executor (%s) may run tasks "
            "on several machines, each with its own file: a message could then be sent twice. "
            "Set ledger_conn_id to a shared database (e.g. a PostgreSQL connection).",
            path,
            executor,
        )
