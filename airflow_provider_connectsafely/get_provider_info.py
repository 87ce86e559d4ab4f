"""What ``airflow providers list``, ``airflow config list`` and the connection form learn about
this provider: checked against Airflow's ``provider_info.schema.json`` by the unit tests."""

from __future__ import annotations

from typing import Any

from airflow_provider_connectsafely import __version__, assets, defaults
from airflow_provider_connectsafely.connection_form import provider_info_entry

INTEGRATION = "ConnectSafely"
PLUGIN_CLASS = "airflow_provider_connectsafely.plugins.ui.ConnectSafelyPlugin"


def _config() -> dict[str, Any]:
    """The ``[connectsafely]`` section, in the shape of Airflow's own providers' ``config``."""
    return {
        defaults.CONFIG_SECTION: {
            "description": "The ConnectSafely provider: its send ledger.",
            "options": {
                defaults.CONFIG_LEDGER_CONN_ID: {
                    "description": (
                        "The Airflow connection of the send ledger (a database connection, e.g.\n"
                        "PostgreSQL), for the tasks, the triggers, the ledger page in the UI and\n"
                        "the connectsafely-ledger command alike. An operator's ledger_conn_id\n"
                        "argument or the command's --ledger-conn-id flag comes first; when this is\n"
                        "empty, the ledger_conn_id extra of the ConnectSafely connection, else the\n"
                        "SQLite file $AIRFLOW_HOME/connectsafely_ledger.sqlite.\n"
                    ),
                    "version_added": "0.2.0",
                    "type": "string",
                    "example": "connectsafely_ledger",
                    "default": defaults.LEDGER_CONN_ID,
                },
                defaults.CONFIG_AUTO_MIGRATE: {
                    "description": (
                        "Whether a task upgrades a ledger with an older schema before using it.\n"
                        "When False, such a task fails with one line naming\n"
                        "`connectsafely-ledger upgrade` and leaves the database untouched.\n"
                    ),
                    "version_added": "0.2.0",
                    "type": "boolean",
                    "example": None,
                    "default": str(defaults.AUTO_MIGRATE),
                },
                defaults.CONFIG_ERASURE_SECRET: {
                    "description": (
                        "The key of the keyed hashes (HMAC-SHA256) that stand for a person erased with\n"
                        "`connectsafely-ledger forget`: they keep the person on the do-not-contact list\n"
                        "without their name. Never stored in the ledger; set the same value on every\n"
                        "machine and keep it (a new key forgets who was forgotten). Empty: forget refuses.\n"
                    ),
                    "version_added": "0.3.0",
                    "type": "string",
                    "sensitive": True,
                    "example": None,
                    "default": "",
                },
                defaults.CONFIG_RETAIN_TEXT_DAYS: {
                    "description": (
                        "Days to keep message and reply texts (texts in the API's stored answers, replies,\n"
                        "ended enrolments' template data). Older ones are blanked by\n"
                        "`connectsafely-ledger prune` and, once a day, by the tasks; states, times and\n"
                        "counts stay. Empty: texts are kept.\n"
                    ),
                    "version_added": "0.3.0",
                    "type": "integer",
                    "example": "90",
                    "default": "",
                },
            },
        }
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-connectsafely",
        "name": "ConnectSafely",
        "description": "Send LinkedIn direct messages through the ConnectSafely API from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://connectsafely.ai/docs",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_connectsafely.hooks.connectsafely"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_connectsafely.operators.messaging",
                    "airflow_provider_connectsafely.operators.batch",
                    "airflow_provider_connectsafely.operators.sequence",
                    "airflow_provider_connectsafely.operators.connections",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_connectsafely.sensors.reply"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_connectsafely.triggers.replies",
                    "airflow_provider_connectsafely.triggers.reply_events",
                ],
            }
        ],
        "connection-types": [provider_info_entry()],
        "notifications": ["airflow_provider_connectsafely.notifications.connectsafely.ConnectSafelyNotifier"],
        # Also the `airflow.plugins` entry point (pyproject.toml), which is what loads it by
        # default: Airflow reads this list only with [core] lazy_discover_providers = False.
        "plugins": [{"name": "connectsafely", "plugin-class": PLUGIN_CLASS}],
        "extra-links": ["airflow_provider_connectsafely.operators.links.ConnectSafelyLedgerLink"],
        "asset-uris": [
            {
                "schemes": [assets.SCHEME],
                "handler": f"{assets.__name__}.{assets.sanitize_uri.__name__}",
            }
        ],
        "config": _config(),
    }
