"""What ``airflow providers list`` and the connection form learn about this provider."""

from __future__ import annotations

from typing import Any

from airflow_provider_connectsafely import __version__
from airflow_provider_connectsafely.connection_form import provider_info_entry

INTEGRATION = "ConnectSafely"


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
    }
