"""What differs between the Airflow releases this provider supports (3.1 and newer).

Import Airflow's exceptions from here, inside functions, instead of from
``airflow.sdk.exceptions``: Airflow 3.1's Task SDK (1.1) defines only ``AirflowException``
there, so ``from airflow.sdk.exceptions import AirflowFailException`` fails on 3.1.
Newer releases (3.3 checked) define them all in the Task SDK, and their old home
``airflow.exceptions`` warns about deprecation. The classes are the same objects either way.
"""

from __future__ import annotations

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.1: same classes, older module (Task SDK 1.1)
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "TaskDeferred",
]
