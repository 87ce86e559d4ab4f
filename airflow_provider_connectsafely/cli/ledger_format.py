"""How ``connectsafely-ledger`` prints rows and statistics: tables, JSON and CSV (stdlib only)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.queries import AccountStats, CampaignStats
    from airflow_provider_connectsafely.ledger.records import LedgerEntry

#: The list table's columns and their widths: about 160 characters a line.
LIST_COLUMNS = (
    ("key", 40),
    ("state", 7),
    ("account", 14),
    ("recipient", 22),
    ("updated_at", 19),
    ("dag/task/run", 36),
    ("error", 30),
)
#: The export's columns, in order (the CSV header).
EXPORT_COLUMNS = (
    "key",
    "campaign",
    "state",
    "account",
    "recipient",
    "recipient_urn",
    "conversation_urn",
    "created_at",
    "updated_at",
    "error",
)
_ELLIPSIS = "..."


def cell(value: Any, width: int) -> str:
    """``value`` on one line, cut to ``width`` characters (ending ``...`` when cut).

    :param value: any value; None shows as empty.
    :param width: the most characters to show.
    """
    text = " ".join(str(value).split()) if value is not None else ""
    if len(text) <= width:
        return text
    return text[: max(width - len(_ELLIPSIS), 0)] + _ELLIPSIS[:width]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int] | None = None) -> str:
    """A plain-text table: columns padded to their widest cell, cut to ``widths`` when given.

    :param headers: the column titles.
    :param rows: the cells, row by row.
    :param widths: the widest each column may be (unlimited when None).
    """
    limits = list(widths) if widths is not None else [10_000] * len(headers)
    lines = [[cell(v, w) for v, w in zip(row, limits, strict=True)] for row in [headers, *rows]]
    sizes = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    out = [
        "  ".join(text.ljust(size) for text, size in zip(line, sizes, strict=True)).rstrip() for line in lines
    ]
    return "\n".join(out)


def when(value: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` in UTC (empty for None).

    :param value: an aware datetime.
    """
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def iso(value: datetime | None) -> str | None:
    """A time in ISO 8601, UTC (None stays None).

    :param value: an aware datetime.
    """
    return value.astimezone(timezone.utc).isoformat() if value else None


def provenance(entry: LedgerEntry) -> str:
    """``dag/task/run`` (with ``[map index]`` for a mapped task), empty when unknown.

    :param entry: a ledger row.
    """
    parts = [entry.dag_id, entry.task_id, entry.run_id]
    if not any(parts):
        return ""
    text = "/".join(p or "?" for p in parts)
    if entry.map_index is not None and entry.map_index >= 0:
        text += f"[{entry.map_index}]"
    return text


def entries_table(entries: Sequence[LedgerEntry], *, wide: bool = False) -> str:
    """The ``list`` table.

    :param entries: the rows to show.
    :param wide: cells in full instead of cut to :data:`LIST_COLUMNS`' widths.
    """
    rows = [
        (e.dedupe_key, e.state, e.account, e.recipient, when(e.updated_at), provenance(e), e.error)
        for e in entries
    ]
    widths = None if wide else [width for _, width in LIST_COLUMNS]
    return table([name for name, _ in LIST_COLUMNS], rows, widths)


def entry_dict(entry: LedgerEntry) -> dict[str, Any]:
    """A row as JSON-friendly data (the API's stored answer left out).

    :param entry: a ledger row.
    """
    from airflow_provider_connectsafely.ledger.records import campaign_of

    parsed = campaign_of(entry.dedupe_key)
    return {
        "key": entry.dedupe_key,
        "campaign": parsed[1] if parsed else None,
        "state": entry.state,
        "account": entry.account,
        "recipient": entry.recipient,
        "recipient_urn": entry.recipient_urn,
        "attempts": entry.attempts,
        "retryable": entry.retryable,
        "error": entry.error,
        "dag_id": entry.dag_id,
        "task_id": entry.task_id,
        "run_id": entry.run_id,
        "map_index": entry.map_index,
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
        "conversation_urn": entry.conversation_urn,
        "thread_id": entry.thread_id,
        "message_urn": entry.message_urn,
        "settled_by": entry.settled_by,
        "settled_at": iso(entry.settled_at),
        "settle_note": entry.settle_note,
    }


def dumps(data: Any) -> str:
    """Indented JSON.

    :param data: JSON-friendly data.
    """
    return json.dumps(data, indent=2, ensure_ascii=False)


def write_csv(entries: Iterable[LedgerEntry], out: IO[str]) -> int:
    """Write the export's header and rows; return how many rows.

    :param entries: the rows to export.
    :param out: a text stream opened with ``newline=""``.
    """
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for entry in entries:
        writer.writerow(csv_row(entry))
        count += 1
    return count


def csv_row(entry: LedgerEntry) -> list[Any]:
    """One row of the export, in :data:`EXPORT_COLUMNS`' order (the CLI's and the page's).

    :param entry: a ledger row.
    """
    data = entry_dict(entry)
    # One line per send, for spreadsheets and CRM imports: an error's line breaks become spaces.
    if data["error"]:
        data["error"] = " ".join(data["error"].split())
    return ["" if data[name] is None else data[name] for name in EXPORT_COLUMNS]


def stats_dict(
    day_start: datetime, accounts: Sequence[AccountStats], campaigns: Sequence[CampaignStats]
) -> dict[str, Any]:
    """The ``stats`` report as JSON-friendly data.

    :param day_start: where "today" started.
    :param accounts: per-account figures.
    :param campaigns: per-campaign figures.
    """
    return {
        "today_since": iso(day_start),
        "accounts": [{"account": a.account, "sent_today": a.sent_today, **a.states} for a in accounts],
        "campaigns": [
            {
                "campaign": c.campaign,
                "kind": c.kind,
                "sends": dict(c.states),
                **({"enrollments": dict(c.enrollments)} if c.enrollments is not None else {}),
            }
            for c in campaigns
        ],
    }


def stats_text(
    day_start: datetime, accounts: Sequence[AccountStats], campaigns: Sequence[CampaignStats]
) -> str:
    """The ``stats`` report as tables: accounts, campaigns' sends, sequences' enrolments.

    :param day_start: where "today" started.
    :param accounts: per-account figures.
    :param campaigns: per-campaign figures.
    """
    from airflow_provider_connectsafely.ledger.queries import SEND_STATES
    from airflow_provider_connectsafely.ledger.sequences import STATES

    parts = [f"Accounts (today = since {when(day_start)} UTC)"]
    if accounts:
        rows = [[a.account, a.sent_today, *(a.states.get(s, 0) for s in SEND_STATES)] for a in accounts]
        parts.append(table(["account", "sent_today", *SEND_STATES], rows, [40, 10, 7, 7, 7, 7]))
    else:
        parts.append("(no sends)")
    parts += ["", "Campaigns (sends)"]
    if campaigns:
        rows = [[c.campaign, c.kind, *(c.states.get(s, 0) for s in SEND_STATES)] for c in campaigns]
        parts.append(table(["campaign", "kind", *SEND_STATES], rows, [40, 8, 7, 7, 7, 7]))
    else:
        parts.append("(no batch or sequence sends)")
    sequences = [c for c in campaigns if c.enrollments is not None]
    if sequences:
        rows = [[c.campaign, *((c.enrollments or {}).get(s, 0) for s in STATES)] for c in sequences]
        parts += [
            "",
            "Sequences (enrolments)",
            table(["campaign", *STATES], rows, [40, *(10 for _ in STATES)]),
        ]
    return "\n".join(parts)


def percent(value: float | None) -> str:
    """``30.0%`` (empty for None).

    :param value: a proportion between 0 and 1.
    """
    return "" if value is None else f"{100 * value:.1f}%"


def variants_text(results: Sequence[dict[str, Any]]) -> str:
    """The results per step and variant as a table: sent, replied, the reply rate and its 95%
    Wilson interval ("not tracked" where replies are not recorded: batches).

    :param results: rows of :func:`~airflow_provider_connectsafely.outreach.variants.result_row`
        with their ``kind``.
    """
    if not results:
        return "(no sends recorded with a step or variant)"
    rows = []
    for r in results:
        interval = r["ci95"]
        rows.append(
            [
                r["kind"],
                r["step"] if r["step"] is not None else "",
                r["variant"] if r["variant"] is not None else "(one message)",
                r["sent"],
                r["replied"] if r["replied"] is not None else "not tracked",
                percent(r["reply_rate"]),
                f"{percent(interval[0])}-{percent(interval[1])}" if interval else "",
            ]
        )
    return table(["kind", "step", "variant", "sent", "replied", "reply_rate", "95% interval"], rows)
