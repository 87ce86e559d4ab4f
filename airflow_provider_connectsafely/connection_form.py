"""The connection form, defined once.

Airflow 3.2+ reads it from ``get_provider_info()`` (``conn-fields``, ``ui-field-behaviour``);
Airflow 3.1 asks the hook (``get_connection_form_widgets``, ``get_ui_field_behaviour``).
Both are derived from the tables below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_connectsafely import defaults

CONN_TYPE = "connectsafely"
HOOK_NAME = "ConnectSafely"
HOOK_CLASS = "airflow_provider_connectsafely.hooks.connectsafely.ConnectSafelyHook"


@dataclass(frozen=True)
class ExtraField:
    """One custom field, stored in the connection's extra under its name."""

    label: str
    kind: str  # "string" or "integer"
    description: str
    placeholder: str = ""
    minimum: int = 1  # for integer fields


HIDDEN_FIELDS = ["login", "schema", "port", "extra"]
RELABELING = {"password": "API Key", "host": "Base URL"}
STANDARD_PLACEHOLDERS = {
    "password": "your ConnectSafely API key",
    "host": defaults.BASE_URL,
}
EXTRA_FIELDS: dict[str, ExtraField] = {
    "account_id": ExtraField(
        label="Default LinkedIn account ID",
        kind="string",
        description="Optional. Sends from this LinkedIn account when a task names none "
        "(24 hex characters, from GET /linkedin/accounts). Empty: the API's default account.",
        placeholder="65f1c0ffee0123456789abcd",
    ),
    "timeout": ExtraField(
        label="Timeout (seconds)",
        kind="integer",
        description="Optional. Seconds to wait for an answer from the API (default 30).",
        placeholder="30",
    ),
    "daily_limit": ExtraField(
        label="Daily message limit per account",
        kind="integer",
        description="Optional. Messages per LinkedIn account per UTC day before tasks wait for "
        "the reset (default 150; 0 for no cap). A task's daily_limit overrides it.",
        placeholder="150",
        minimum=0,
    ),
    "ledger_conn_id": ExtraField(
        label="Send ledger connection ID",
        kind="string",
        description="Optional. A database connection (e.g. PostgreSQL) holding the send ledger "
        "shared by all workers. Empty: a SQLite file under AIRFLOW_HOME.",
        placeholder="connectsafely_ledger",
    ),
}


def _placeholders() -> dict[str, str]:
    extra = {name: f.placeholder for name, f in EXTRA_FIELDS.items() if f.placeholder}
    return {**STANDARD_PLACEHOLDERS, **extra}


def ui_field_behaviour() -> dict[str, Any]:
    """The hook-method form (Airflow 3.1): snake_case keys."""
    return {
        "hidden_fields": list(HIDDEN_FIELDS),
        "relabeling": dict(RELABELING),
        "placeholders": _placeholders(),
    }


def provider_info_entry() -> dict[str, Any]:
    """The ``connection-types`` entry of ``get_provider_info()`` (Airflow 3.2+)."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": HOOK_CLASS,
        "hook-name": HOOK_NAME,
        "ui-field-behaviour": {
            "hidden-fields": list(HIDDEN_FIELDS),
            "relabeling": dict(RELABELING),
            "placeholders": _placeholders(),
        },
        "conn-fields": {
            name: {
                "label": f.label,
                "schema": {"type": [f.kind, "null"]},
                "description": f.description,
            }
            for name, f in EXTRA_FIELDS.items()
        },
    }


def form_widgets() -> dict[str, Any]:
    """wtforms fields for Airflow 3.1's ``get_connection_form_widgets``."""
    from wtforms import IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widgets: dict[str, Any] = {}
    for name, f in EXTRA_FIELDS.items():
        if f.kind == "integer":
            widgets[name] = IntegerField(
                f.label,
                validators=[Optional(strip_whitespace=True), NumberRange(min=f.minimum)],
                description=f.description,
            )
        else:
            widgets[name] = StringField(f.label, description=f.description)
    return widgets
