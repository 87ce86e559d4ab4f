"""The ledger's schema versions, applied with Alembic on first use.

The scripts in ``versions/`` are the history; ``schema.py`` is the table at ``HEAD``. The
version lives in the provider's own table, never in Airflow's ``alembic_version``. Alembic
loads only when a ledger has to be checked under the lock or migrated.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: The newest schema version this code knows; ``schema.py`` defines the table at this version.
HEAD = "0006"
#: The schema release 0.1 created, without recording any version.
BASELINE = "0001"
VERSION_TABLE = "connectsafely_ledger_version"
# One fixed key ("ConnSafe") that every worker's transaction locks on PostgreSQL.
_PG_LOCK_KEY = 0x436F6E6E53616665

log = logging.getLogger(__name__)


def current_version(engine: Engine) -> str | None:
    """The ledger's schema version, or None before it has one (a new or a 0.1 ledger).

    One query when the ledger has a version, which is the common case.
    """
    from sqlalchemy import column, inspect, select, table
    from sqlalchemy.exc import DBAPIError

    query: Any = select(column("version_num")).select_from(table(VERSION_TABLE))
    try:
        with engine.connect() as conn:
            return conn.execute(query).scalar()
    except DBAPIError:
        if not inspect(engine).has_table(VERSION_TABLE):
            return None
    # Another worker created it meanwhile, or the error was not about the table: ask again.
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def upgrade(engine: Engine, where: str) -> bool:
    """Bring the ledger to ``HEAD`` in one transaction, holding a lock that makes concurrent
    workers wait and then find it done. Returns True when this call changed the schema.

    :param engine: the ledger's engine.
    :param where: the ledger's location, for the error message.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from airflow_provider_connectsafely.ledger.schema import metadata, sends

    config = _config()
    known = _known()
    with engine.connect() as conn, conn.begin():
        _lock(conn)
        before = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()
        if before == HEAD:
            return False
        if before is not None and before not in known:
            raise _too_new(before, where)
        config.attributes["connection"] = conn
        if before is None and not inspect(conn).has_table(sends.name):
            metadata.create_all(conn)
            command.stamp(config, HEAD)
        else:
            if before is None:  # a ledger written by 0.1, which recorded no version
                command.stamp(config, BASELINE)
            command.upgrade(config, HEAD)
    log.info("Send ledger %s: schema %s -> %s", where, before or "(none)", HEAD)
    return True


def upgrade_sql(engine: Engine, where: str) -> str:
    """The SQL that :func:`upgrade` would run on this ledger, for its dialect (Alembic's offline
    mode), without changing anything; empty when the ledger is at ``HEAD``. The database is
    only read: for its schema version and, when a data step needs them, the existing keys.

    :param engine: the ledger's engine.
    :param where: the ledger's location, for the error message.
    """
    import io

    from alembic import command
    from sqlalchemy import inspect

    from airflow_provider_connectsafely.ledger.schema import sends

    before = current_version(engine)
    if before == HEAD:
        return ""
    if before is not None and before not in _known():
        raise _too_new(before, where)
    buffer = io.StringIO()
    config = _config(buffer)
    with engine.connect() as reader:
        config.attributes.update(dialect_name=engine.dialect.name, read_connection=reader)
        if before is None and not inspect(reader).has_table(sends.name):
            command.upgrade(config, HEAD, sql=True)
        else:
            if before is None:  # a 0.1 ledger: record its version first
                command.stamp(config, BASELINE, sql=True)
            command.upgrade(config, f"{before or BASELINE}:{HEAD}", sql=True)
    return buffer.getvalue()


def upgrade_required(engine: Engine, version: str | None, where: str) -> Exception:
    """The error of a task that may not migrate (``auto_migrate`` off) facing ``version``."""
    from sqlalchemy import inspect

    from airflow_provider_connectsafely.ledger.schema import sends

    if version is not None and version > HEAD:
        return _too_new(version, where)
    if version is None and not inspect(engine).has_table(sends.name):
        found = "has no ledger tables yet"
    else:
        found = f"has schema version {version or BASELINE}"
    return _config_error(
        f"The send ledger {where} {found}; this provider needs {HEAD}, and [connectsafely] "
        "auto_migrate is off, so tasks leave the schema alone. Fix: run `connectsafely-ledger upgrade` "
        "(or `connectsafely-ledger upgrade --sql` for the DDL) once, then rerun the task"
    )


def _lock(conn: Connection) -> None:
    from sqlalchemy import text

    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Released when the transaction ends: after the commit, waiters see the new schema.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        # The write lock up front (pysqlite would begin lazily, after our reads); the others
        # wait up to the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _known() -> set[str]:
    """Every schema version this code has a script for."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def _config(output_buffer: Any = None) -> Any:
    from alembic.config import Config

    config = Config(output_buffer=output_buffer)
    config.set_main_option("script_location", str(Path(__file__).parent).replace("%", "%%"))
    return config


def _config_error(message: str) -> Exception:
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    return ConnectSafelyConfigError(message)


def _too_new(version: str, where: str) -> Exception:
    return _config_error(
        f"The send ledger {where} has schema version {version}, newer than this provider knows "
        f"(its newest is {HEAD}): a newer airflow-provider-connectsafely has upgraded it. Fix: "
        "install the same, newest provider version on every worker and scheduler"
    )
