"""What a campaign asset event says about the run that sent: the ``extra`` of the event a send
task emits for an outlet ``Asset("connectsafely://campaign/<name>")``.

No Airflow imports here. The extra is JSON (the metadata database stores it) and holds:

- ``campaign``, ``dry_run``, ``emitted_at`` (UTC, ISO 8601) and ``counts`` (per status);
- ``source``: the task that sent (``dag_id``, ``task_id``, ``run_id``, ``map_index``);
- ``outcomes``: one row per recipient (``recipient``, ``status``, and as the operator gives
  them ``reason``, ``state``, ``step``, ``replied_at``, ``conversationUrn``...), without the
  message text; or, when the run has more rows than ``limit``
  (:data:`~airflow_provider_connectsafely.defaults.ASSET_EVENT_OUTCOMES`), ``None``, with
  ``outcomes_in`` naming the XCom that holds them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow_provider_connectsafely import defaults

#: Keys of an outcome row left out of the event: message text is the campaign's, not the outcome.
_LEFT_OUT = ("message", "note", "dedupe_key")


def campaign_event_extra(
    result: Any,
    *,
    campaign: str | None,
    source: tuple[str, str, str, int] | None,
    emitted_at: datetime,
    rows: list[Mapping[str, Any]] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The extra of a campaign asset event, from what a send task returned.

    :param result: the task's return value: ``{"summary": ..., "outcomes": [...]}`` from the
        batch and sequence operators; anything else is described by ``rows``.
    :param campaign: the campaign's name.
    :param source: ``(dag_id, task_id, run_id, map_index)`` of the task, or None.
    :param emitted_at: when the run ended (UTC).
    :param rows: the outcome rows when ``result`` holds none (a single send's one row).
    :param limit: the most rows carried; more are left in the task's XCom (``outcomes_in``).
        Default: :data:`~airflow_provider_connectsafely.defaults.ASSET_EVENT_OUTCOMES`.
    """
    limit = defaults.ASSET_EVENT_OUTCOMES if limit is None else limit
    summary: Mapping[str, Any] = {}
    if isinstance(result, Mapping) and isinstance(result.get("outcomes"), list):
        summary = result.get("summary") or {}
        rows = result["outcomes"]
    rows = [row for row in rows or [] if isinstance(row, Mapping)]
    counts = {k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)}
    if not counts:
        for row in rows:
            counts[str(row.get("status"))] = counts.get(str(row.get("status")), 0) + 1
    extra: dict[str, Any] = {
        "campaign": campaign or summary.get("campaign"),
        "dry_run": bool(summary.get("dry_run", False)),
        "emitted_at": emitted_at.isoformat(),
        "counts": counts,
        "source": None
        if source is None
        else dict(zip(("dag_id", "task_id", "run_id", "map_index"), source, strict=True)),
    }
    if len(rows) <= limit:
        extra["outcomes"] = [{k: v for k, v in row.items() if k not in _LEFT_OUT} for row in rows]
    else:
        extra["outcomes"] = None
        extra["outcomes_in"] = {
            "xcom_key": "return_value",
            "rows": len(rows),
            "why": f"more than {limit} rows (ASSET_EVENT_OUTCOMES): read them from the source task's XCom",
        }
    return extra
