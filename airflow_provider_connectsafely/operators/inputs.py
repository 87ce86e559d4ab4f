"""What the send operators read: recipients, templates, and the checks of their arguments
when a DAG is parsed.

Only Airflow's task SDK is imported at module level: DAG files import this on every parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import BaseOperator
    from jinja2 import Template

#: A templated text ending so is read as a template file.
TEMPLATE_FILES = (".txt", ".j2", ".md")


def check_account_args(account_id: Any, account_ids: Any, warmup: Any) -> None:
    """At parse time: one account or several, not both; a warm-up needs several accounts."""
    from airflow_provider_connectsafely.outreach.accounts import Warmup

    if account_ids and account_id:
        raise ValueError("give account_id (one account) or account_ids (several), not both")
    if warmup is not None:
        Warmup.of(warmup)
        if not account_ids:
            raise ValueError("warmup ramps up the caps of account_ids: give account_ids too")


def check_window_args(send_window: Any, timezone: Any, timezone_field: Any = None) -> None:
    """Check a literal ``send_window`` and ``timezone`` when the DAG is parsed; templated
    ones are checked after rendering, before any request."""
    if send_window is None:
        if timezone is not None or timezone_field:
            raise ValueError("timezone and timezone_field apply only with send_window: set send_window too")
        return
    from airflow_provider_connectsafely.outreach.windows import SendWindow, check_timezone

    if not _templated(send_window):
        SendWindow.parse(send_window)
    if timezone is not None and not _templated(timezone):
        check_timezone(timezone)
    if timezone_field is not None and (not isinstance(timezone_field, str) or not timezone_field.strip()):
        raise ValueError(f"timezone_field must name a key of the recipients' rows, got {timezone_field!r}")


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def load_recipients(
    recipients: Any,
    recipients_sql: str | None,
    recipients_conn_id: str | None,
    recipients_parameters: Any = None,
) -> list[Any]:
    """The rows of ``recipients`` (a list, e.g. an upstream task's output), or of
    ``recipients_sql`` run on ``recipients_conn_id`` (any ``common.sql`` connection) with the
    bind parameters ``recipients_parameters``, each row a dict by column name."""
    from airflow_provider_connectsafely.compat import AirflowFailException

    if recipients_sql is not None:
        check_parameters(recipients_parameters, rendered=True)
        return _query_rows(recipients_sql, str(recipients_conn_id), recipients_parameters)
    if isinstance(recipients, (dict, str)) or not hasattr(recipients, "__iter__"):
        raise AirflowFailException(
            f"Invalid `recipients`: expected a list of dicts, got {type(recipients).__name__}. Fix: pass "
            "a list (or an upstream task's output) of dicts with recipient_profile_id or "
            "recipient_profile_urn"
        )
    return list(recipients)


def _query_rows(sql: str, conn_id: str, parameters: Any) -> list[dict[str, Any]]:
    """Run ``sql`` through the connection's own DB-API hook (``DbApiHook.run``, as Airflow's SQL
    operators do); a connection that is not defined or not a database, or a query the database
    refuses as written, fails without retries (a retry runs the same)."""
    from airflow.sdk import BaseHook

    from airflow_provider_connectsafely.compat import AirflowFailException, AirflowNotFoundException

    try:
        from airflow.providers.common.sql.hooks.handlers import fetch_all_handler
        from airflow.providers.common.sql.hooks.sql import DbApiHook
    except ImportError as exc:  # pragma: no cover - Airflow 3 installs common.sql
        raise AirflowFailException(
            "recipients_sql needs apache-airflow-providers-common-sql. Fix: install it, or the "
            "provider of your database (which requires it)"
        ) from exc
    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise AirflowFailException(
            f"Recipients connection {conn_id!r} is not defined. Fix: define it (a database "
            "connection: sqlite, postgres, mysql...) or correct recipients_conn_id"
        ) from exc
    db_hook: Any = connection.get_hook()
    if not isinstance(db_hook, DbApiHook):
        raise AirflowFailException(
            f"recipients_conn_id {conn_id!r} is a {connection.conn_type!r} connection, whose hook "
            f"({type(db_hook).__name__}) runs no SQL. Fix: name a database connection (any "
            "common.sql one: sqlite, postgres, mysql...)"
        )
    try:
        rows = db_hook.run(sql, parameters=parameters, handler=fetch_all_handler)
    except Exception as exc:
        if not _refused_as_written(exc):
            raise  # the database may be down: a retry may succeed
        raise AirflowFailException(
            f"recipients_sql was refused: {type(exc).__name__}: {exc}. Fix: check the query and "
            "that recipients_parameters gives one value per placeholder, in the style of the "
            "database's driver (a list for ? or %s, a dict for :name or %(name)s)"
        ) from exc
    if rows is None or db_hook.last_description is None:
        raise AirflowFailException(
            "recipients_sql returned no rows to read (it is no query). Fix: give one SELECT "
            "statement, whose columns name the recipients' fields"
        )
    names = [column[0] for column in db_hook.last_description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _refused_as_written(exc: BaseException) -> bool:
    """A DB-API ``ProgrammingError`` (bad SQL, wrong number of bind parameters): the same
    query fails the same way on every try. PEP 249 names the class, each driver defines it."""
    return any(cls.__name__ == "ProgrammingError" for cls in type(exc).__mro__)


def check_parameters(parameters: Any, *, rendered: bool = False) -> None:
    """``recipients_parameters`` are the DB-API's: a mapping (named placeholders) or a sequence
    (positional ones). When the DAG is parsed (ValueError) a templated string or an upstream
    task's output is let through; once ``rendered``, before the query runs, anything else fails
    the task without retries (AirflowFailException: a retry renders the same)."""
    from collections.abc import Mapping
    from collections.abc import Sequence as SequenceABC

    from airflow_provider_connectsafely.compat import AirflowFailException

    if parameters is None:
        return
    if not rendered and (_templated(parameters) or hasattr(parameters, "resolve")):
        return  # rendered or resolved when the task runs
    if isinstance(parameters, Mapping) or (
        isinstance(parameters, SequenceABC) and not isinstance(parameters, (str, bytes, bytearray))
    ):
        return
    text = (
        " A template of the whole field renders to text: template each value instead, e.g. "
        "recipients_parameters={'since': '{{ ds }}'}, or set render_template_as_native_obj=True "
        "on the DAG."
        if isinstance(parameters, str)
        else ""
    )
    error = AirflowFailException if rendered else ValueError
    raise error(
        f"Invalid `recipients_parameters`: expected a dict (named placeholders, e.g. :since or "
        f"%(since)s) or a list (positional ones, e.g. ? or %s) of the values to bind into "
        f"recipients_sql, got {type(parameters).__name__}. Fix: pass the values as a dict or a list, "
        f"e.g. recipients_parameters={{'since': '2026-01-01'}}.{text}"
    )


def check_recipient_source(
    recipients: Any,
    recipients_sql: str | None,
    recipients_conn_id: str | None,
    recipients_parameters: Any = None,
) -> None:
    """Exactly one source of recipients, and SQL bind parameters only with SQL, checked when
    the DAG is parsed."""
    if (recipients is None) == (recipients_sql is None):
        raise ValueError("give exactly one of recipients or recipients_sql")
    if recipients_sql is not None and not recipients_conn_id:
        raise ValueError("recipients_sql needs recipients_conn_id")
    if recipients_parameters is not None and recipients_sql is None:
        raise ValueError("recipients_parameters binds values into recipients_sql: give recipients_sql too")
    check_parameters(recipients_parameters)


def template_loader(operator: BaseOperator) -> Callable[[str], Template]:
    """Compiles templates with the DAG's Jinja environment (its macros, filters,
    ``template_searchpath`` and undefined rule); names ending ``.txt``/``.j2``/``.md`` are files."""
    env = operator.get_template_env(dag=operator.dag if operator.has_dag() else None)

    def load(source: str) -> Template:
        return env.get_template(source) if source.endswith(TEMPLATE_FILES) else env.from_string(source)

    return load
