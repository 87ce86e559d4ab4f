"""The "ConnectSafely ledger" button on the provider's task instances: the ledger page filtered
to the task's campaign and DAG run.

Airflow 3 computes the link on the worker when the task ends (with the rendered operator) and
keeps it in XCom, where the UI reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey


class ConnectSafelyLedgerLink(BaseOperatorLink):
    """Opens the ledger page filtered to the task's campaign (when it has one: a batch or a
    sequence) and its DAG run; under ``[api] base_url``."""

    name = "ConnectSafely ledger"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow_provider_connectsafely.plugins.address import page_url

        label = getattr(operator, "ledger_campaign", None)
        campaign = label(ti_key) if callable(label) else None
        return page_url(campaign=campaign, run_id=ti_key.run_id)
