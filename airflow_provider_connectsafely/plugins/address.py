"""Where the ledger page is, as links to it must say: under ``[api] base_url``'s path when
Airflow is deployed under a sub-path (``https://host/airflow`` serves the page at
``/airflow/connectsafely/``). Cheap to import (the plugin and the operators' link use it).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from airflow_provider_connectsafely.plugins import MOUNT


def base_url() -> str:
    """``[api] base_url`` without its trailing slash; empty when not set."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf
    return str(conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")


def page_href(base: str | None = None) -> str:
    """The page's path for the UI's navigation: ``<base_url's path>/connectsafely/``.

    :param base: ``[api] base_url`` (read from the configuration when None).
    """
    path = urlsplit(base_url() if base is None else base).path.rstrip("/")
    return f"{path}{MOUNT}/"


def page_url(*, campaign: str | None = None, run_id: str | None = None, base: str | None = None) -> str:
    """The page opened filtered to a campaign (its label, ``batch:<c>`` or ``sequence:<c>``)
    and a DAG run: absolute when ``[api] base_url`` names a host, else a path from the root.

    :param campaign: the campaign's label, or None.
    :param run_id: the DAG run, or None.
    :param base: ``[api] base_url`` (read from the configuration when None).
    """
    base = base_url() if base is None else base.rstrip("/")
    query = urlencode({k: v for k, v in (("campaign", campaign), ("run_id", run_id)) if v})
    return f"{base}{MOUNT}/" + (f"?{query}" if query else "")
