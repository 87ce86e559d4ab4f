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


def load_recipients(recipients: Any, recipients_sql: str | None, recipients_conn_id: str | None) -> list[Any]:
    """The rows of ``recipients`` (a list, e.g. an upstream task's output), or of
    ``recipients_sql`` run on ``recipients_conn_id`` (any ``common.sql`` connection)."""
    from airflow_provider_connectsafely.compat import AirflowFailException

    if recipients_sql is not None:
        from contextlib import closing

        from airflow.sdk import BaseHook

        db_hook: Any = BaseHook.get_connection(str(recipients_conn_id)).get_hook()
        with closing(db_hook.get_conn()) as conn:
            cursor = conn.cursor()
            cursor.execute(recipients_sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if isinstance(recipients, (dict, str)) or not hasattr(recipients, "__iter__"):
        raise AirflowFailException(
            f"Invalid `recipients`: expected a list of dicts, got {type(recipients).__name__}. Fix: pass "
            "a list (or an upstream task's output) of dicts with recipient_profile_id or "
            "recipient_profile_urn"
        )
    return list(recipients)


def check_recipient_source(
    recipients: Any, recipients_sql: str | None, recipients_conn_id: str | None
) -> None:
    """Exactly one source of recipients, checked when the DAG is parsed."""
    if (recipients is None) == (recipients_sql is None):
        raise ValueError("give exactly one of recipients or recipients_sql")
    if recipients_sql is not None and not recipients_conn_id:
        raise ValueError("recipients_sql needs recipients_conn_id")


def template_loader(operator: BaseOperator) -> Callable[[str], Template]:
    """Compiles templates with the DAG's Jinja environment (its macros, filters,
    ``template_searchpath`` and undefined rule); names ending ``.txt``/``.j2``/``.md`` are files."""
    env = operator.get_template_env(dag=operator.dag if operator.has_dag() else None)

    def load(source: str) -> Template:
        return env.get_template(source) if source.endswith(TEMPLATE_FILES) else env.from_string(source)

    return load
