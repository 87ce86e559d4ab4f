"""Where the send ledger is: one answer for tasks, triggers, the ledger page and the CLI.

The first of these that names a ledger wins:

1. an explicit argument: an operator's ``ledger_conn_id``, the CLI's ``--ledger-conn-id`` or
   ``--url``;
2. ``[connectsafely] ledger_conn_id`` in Airflow's configuration
   (``AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID``);
3. the ``ledger_conn_id`` extra of the ConnectSafely connection (the task's own connection;
   ``connectsafely_default`` for the page and the CLI);
4. the default SQLite file ``$AIRFLOW_HOME/connectsafely_ledger.sqlite``.

Opened ledgers are cached per process, one cache for every surface. Tasks and triggers open a
ledger with :func:`open_ledger` (created or migrated on first use unless
``[connectsafely] auto_migrate`` is off); the page and the CLI read one with
:func:`open_existing`, which never creates nor migrates anything.

Airflow is imported only inside the functions that read its configuration or connections.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.clock import Clock, utc_now

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

DEFAULT_FILE = "connectsafely_ledger.sqlite"
ARGUMENT, CONFIG, CONNECTION, DEFAULT = "argument", "config", "connection", "default"
# Executors that run every task on the scheduler's machine, where one SQLite file is shared.
_SINGLE_MACHINE_EXECUTORS = {"LocalExecutor", "SequentialExecutor", "DebugExecutor"}
_OPEN: dict[str, SendLedger] = {}
_LOCK = threading.Lock()
_UNSET: Any = object()

log = logging.getLogger(__name__)


class LedgerUnavailable(Exception):
    """The ledger cannot be read: missing, not reachable, or at another schema version. The
    message is one line for a person (the page shows it, the CLI prints it).

    :param reason: ``missing``, ``unreadable``, ``version`` or ``config``.
    """

    def __init__(self, message: str, reason: str = "config") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LedgerLocation:
    """Which ledger, and why that one.

    :param url: the SQLAlchemy URL (it may hold a password: show :attr:`where` instead).
    :param source: what named it: ``argument``, ``config``, ``connection`` or ``default``.
    :param conn_id: the Airflow connection that holds it, when one does.
    """

    url: str = field(repr=False)
    source: str
    conn_id: str | None = None

    @property
    def where(self) -> str:
        """The URL without its password nor query options (which can hold one)."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(query={}).render_as_string(hide_password=True)

    def describe(self) -> str:
        """``where`` and the setting that chose it, e.g. ``... ([connectsafely] ledger_conn_id
        = 'ledger_pg')``."""
        return f"{self.where} ({_why(self)})"


def _why(location: LedgerLocation) -> str:
    return {
        ARGUMENT: f"ledger connection {location.conn_id!r}" if location.conn_id else "given URL",
        CONFIG: f"[connectsafely] ledger_conn_id = {location.conn_id!r}",
        CONNECTION: f"the ConnectSafely connection's ledger_conn_id extra = {location.conn_id!r}",
        DEFAULT: "the default SQLite file",
    }[location.source]


def default_ledger_path() -> Path:
    """``$AIRFLOW_HOME/connectsafely_ledger.sqlite`` (``~/airflow`` when unset)."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / DEFAULT_FILE


def locate(
    ledger_conn_id: str | None = None,
    *,
    url: str | None = None,
    connectsafely_conn_id: str = defaults.CONN_ID,
    extra_ledger_conn_id: str | None = _UNSET,
) -> LedgerLocation:
    """The ledger to use, by the precedence above.

    :param ledger_conn_id: an explicit ledger connection (an operator's argument, a CLI flag).
    :param url: an explicit SQLAlchemy URL (the CLI's ``--url``).
    :param connectsafely_conn_id: the ConnectSafely connection whose extra is read third.
    :param extra_ledger_conn_id: that extra when the caller has read the connection already
        (tasks do), so it is not looked up twice.
    :raises LedgerUnavailable: both explicit forms given, or a named connection not defined.
    """
    if url and ledger_conn_id:
        raise LedgerUnavailable("give a ledger URL or a ledger connection, not both")
    if url:
        return LedgerLocation(url, ARGUMENT)
    chosen = _named(ledger_conn_id, ARGUMENT) or _named(configured_conn_id(), CONFIG)
    if chosen is None:
        if extra_ledger_conn_id is _UNSET:
            extra_ledger_conn_id = connection_extra(connectsafely_conn_id).get("ledger_conn_id")
        chosen = _named(extra_ledger_conn_id, CONNECTION)
    if chosen is None:
        return LedgerLocation(f"sqlite:///{default_ledger_path()}", DEFAULT)
    conn_id, source = chosen
    return LedgerLocation(sqlalchemy_url(conn_id), source, conn_id)


def _named(value: Any, source: str) -> tuple[str, str] | None:
    text = str(value or "").strip()
    return (text, source) if text else None


def configured_conn_id() -> str | None:
    """``[connectsafely] ledger_conn_id``, or None when unset (or no Airflow configuration)."""
    value = _config(defaults.CONFIG_LEDGER_CONN_ID)
    return str(value).strip() or None if value else None


def auto_migrate() -> bool:
    """``[connectsafely] auto_migrate`` (default True)."""
    value = _config(defaults.CONFIG_AUTO_MIGRATE)
    if value is None or str(value).strip() == "":
        return defaults.AUTO_MIGRATE
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    raise ConnectSafelyConfigError(
        f"[connectsafely] auto_migrate is {value!r}. Fix: set it to true or false "
        "(AIRFLOW__CONNECTSAFELY__AUTO_MIGRATE)"
    )


def erasure_secret() -> str | None:
    """``[connectsafely] erasure_secret``, or None when unset."""
    value = _config(defaults.CONFIG_ERASURE_SECRET)
    return str(value) if value and str(value).strip() else None


def retain_text_days() -> int | None:
    """``[connectsafely] retain_text_days``, or None when unset (texts are kept)."""
    value = _config(defaults.CONFIG_RETAIN_TEXT_DAYS)
    if value is None or str(value).strip() == "":
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        days = -1
    if days < 1:
        from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

        raise ConnectSafelyConfigError(
            f"[connectsafely] retain_text_days is {value!r}. Fix: set a whole number of days (1 or "
            "more), or leave it empty to keep texts (AIRFLOW__CONNECTSAFELY__RETAIN_TEXT_DAYS)"
        )
    return days


def _config(option: str) -> str | None:
    try:
        from airflow.configuration import conf
    except ImportError:  # no Airflow: plain library use
        return None
    return conf.get(defaults.CONFIG_SECTION, option, fallback=None)


def connection_extra(conn_id: str) -> dict[str, Any]:
    """A connection's extra (never its password); empty when it is not defined or unreadable."""
    try:
        from airflow.sdk import BaseHook

        extra = BaseHook.get_connection(conn_id).extra_dejson
    except Exception:  # not defined, or no Airflow: the defaults apply
        return {}
    return extra if isinstance(extra, dict) else {}


def sqlalchemy_url(conn_id: str) -> str:
    """A SQLAlchemy URL from an Airflow connection: its ``sqlalchemy_url`` extra, or built
    from its type, host, port, login, password and schema (database). Secrets are masked in
    Airflow's logs from here on.

    :raises ConnectSafelyConfigError: the connection is not defined.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret
    from sqlalchemy.engine import URL, make_url

    from airflow_provider_connectsafely.compat import AirflowNotFoundException
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

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


# -- opening -----------------------------------------------------------------------------


def open_ledger(location: LedgerLocation, task_log: logging.Logger | Any = log) -> SendLedger:
    """The ledger for sending (tasks, triggers): created, or migrated to this provider's
    schema, on first use unless ``[connectsafely] auto_migrate`` is off. Cached per process, so
    a worker reuses one engine (and its pool).

    :param location: from :func:`locate`.
    :param task_log: where a warning about a per-machine SQLite file goes.
    """
    from airflow_provider_connectsafely.ledger.store import SendLedger

    with _LOCK:
        ledger = _OPEN.get(location.url)
        if ledger is None:
            if location.source == DEFAULT:
                path = Path(location.url.removeprefix("sqlite:///"))
                ledger = SendLedger.sqlite(path, auto_migrate=auto_migrate(), erasure_secret=erasure_secret())
                _warn_if_distributed(task_log, path)
            else:
                ledger = SendLedger.from_url(
                    location.url,
                    pool_pre_ping=True,
                    auto_migrate=auto_migrate(),
                    erasure_secret=erasure_secret(),
                )
            _OPEN[location.url] = ledger
    return ledger


def open_existing(location: LedgerLocation, clock: Clock = utc_now) -> SendLedger:
    """An existing ledger at this provider's schema, for reading and settling (the page, the
    CLI). Never creates nor migrates one; one query per call once open.

    :param location: from :func:`locate`.
    :param clock: what stamps a settlement.
    :raises LedgerUnavailable: no such ledger, not reachable, or at another schema version.
    """
    from sqlalchemy.engine import make_url

    where = location.where
    if make_url(location.url).get_backend_name() == "sqlite":
        database = make_url(location.url).database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            hint = fallback_notice(location)
            raise LedgerUnavailable(
                f"No send ledger at {database or where} yet ({_why(location)}): the first send "
                f"creates it.{' ' + hint if hint else ''}",
                "missing",
            )
    key = f"existing:{location.url}"
    with _LOCK:
        ledger = _OPEN.get(key)
        if ledger is None:
            # Checked on a plain engine first: the ledger's SQLite set-up (WAL) writes to the file.
            _check(_plain_engine(location.url), where, dispose=True)
            from airflow_provider_connectsafely.ledger.store import SendLedger

            is_sqlite = make_url(location.url).get_backend_name() == "sqlite"
            try:
                ledger = SendLedger.from_url(
                    location.url, clock=clock, pool_pre_ping=not is_sqlite, erasure_secret=erasure_secret()
                )
            except Exception as exc:  # a missing driver, an old SQLite
                raise LedgerUnavailable(
                    f"Cannot open the send ledger at {where}: {_first_line(exc)}"
                ) from exc
            _OPEN[key] = ledger
    ledger.clock = clock
    _check(ledger.engine, where)
    # Checked at HEAD just now: reads and settlements must never try to migrate.
    ledger._schema_ready = True
    return ledger


def close_all() -> None:
    """Close every ledger this process opened (tests, and the API server at shutdown)."""
    with _LOCK:
        for ledger in _OPEN.values():
            ledger.close()
        _OPEN.clear()


def fallback_notice(location: LedgerLocation) -> str | None:
    """When ``location`` is the default SQLite file but a ConnectSafely connection visible here
    names a ledger of its own, a sentence saying so (tasks using that connection write there);
    None otherwise."""
    if location.source != DEFAULT:
        return None
    named = sorted(_ledgers_named_by_connections().items())
    if not named:
        return None
    listed = ", ".join(f"{conn!r} names {ledger!r}" for conn, ledger in named)
    return (
        f"Note: ConnectSafely connection {listed}; tasks using it write there. Set "
        "[connectsafely] ledger_conn_id (AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID) so every "
        "surface uses one ledger, or pass --ledger-conn-id."
    )


def _ledgers_named_by_connections() -> dict[str, str]:
    """``{conn_id: ledger_conn_id}`` of the ConnectSafely connections defined in the
    environment (``AIRFLOW_CONN_*``) and, where reachable, Airflow's metadata database."""
    from airflow_provider_connectsafely.connection_form import CONN_TYPE

    found: dict[str, str] = {}
    for name in os.environ:
        if name.startswith("AIRFLOW_CONN_"):
            conn_id = name[len("AIRFLOW_CONN_") :].lower()
            extra = _env_connection_extra(conn_id, CONN_TYPE)
            if extra is not None and str(extra.get("ledger_conn_id") or "").strip():
                found[conn_id] = str(extra["ledger_conn_id"]).strip()
    found.update(_metastore_ledgers(CONN_TYPE))
    return found


def _env_connection_extra(conn_id: str, conn_type: str) -> dict[str, Any] | None:
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # unreadable: nothing to report
        return None
    if (conn.conn_type or "") != conn_type:
        return None
    extra = conn.extra_dejson
    return extra if isinstance(extra, dict) else None


def _metastore_ledgers(conn_type: str) -> dict[str, str]:
    """From Airflow's own connection table, when this process can read it (API server, a
    CLI on a scheduler's machine); empty elsewhere."""
    try:
        from airflow.configuration import conf
        from airflow.models.connection import Connection
        from airflow.utils.session import create_session
        from sqlalchemy.engine import make_url

        metadata_url = make_url(str(conf.get("database", "sql_alchemy_conn", fallback="") or ""))
        if metadata_url.get_backend_name() == "sqlite" and not Path(metadata_url.database or "").is_file():
            return {}  # no metadata database on this machine (connecting would create the file)
        with create_session() as session:
            rows = session.query(Connection).filter(Connection.conn_type == conn_type).all()
            pairs = [(row.conn_id, row.extra_dejson) for row in rows]
    except Exception:  # no metadata database here
        return {}
    return {
        conn_id: str(extra["ledger_conn_id"]).strip()
        for conn_id, extra in pairs
        if isinstance(extra, dict) and str(extra.get("ledger_conn_id") or "").strip()
    }


def _plain_engine(url: str) -> Any:
    from sqlalchemy import create_engine

    try:
        return create_engine(url)
    except Exception as exc:  # a missing driver
        raise LedgerUnavailable(f"Cannot open the send ledger: {_first_line(exc)}", "unreadable") from exc


def _check(engine: Any, where: str, *, dispose: bool = False) -> None:
    from airflow_provider_connectsafely.ledger import queries

    try:
        queries.check_readable(engine, where)
    except queries.LedgerNotReadable as exc:
        text = str(exc)
        if exc.reason == "version":
            text += (
                ". Reading never migrates it: run `connectsafely-ledger upgrade` (or let a task "
                "of this provider version do it, when [connectsafely] auto_migrate is on)"
            )
        raise LedgerUnavailable(f"{text[0].upper()}{text[1:]}.", exc.reason) from exc
    finally:
        if dispose:
            engine.dispose()


def _first_line(exc: BaseException) -> str:
    from airflow_provider_connectsafely.ledger.queries import first_line

    return first_line(exc)


def _warn_if_distributed(task_log: logging.Logger | Any, path: Path) -> None:
    try:
        from airflow.configuration import conf

        executor = str(conf.get("core", "executor", fallback="") or "")
    except Exception:  # configuration unavailable (plain unit tests): nothing to warn about
        return
    names = {name.strip().split(".")[-1] for name in executor.split(",") if name.strip()}
    names = {name.split(":")[-1] for name in names}
    if names and not names <= _SINGLE_MACHINE_EXECUTORS:
        task_log.warning(
            "The send ledger is the default SQLite file %s, but the executor (%s) may run tasks "
            "on several machines, each with its own file: a message could then be sent twice. "
            "Set [connectsafely] ledger_conn_id to a shared database (e.g. a PostgreSQL connection).",
            path,
            executor,
        )
