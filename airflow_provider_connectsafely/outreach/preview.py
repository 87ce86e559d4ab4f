"""A Markdown preview of a dry run, for a person to read before a campaign goes out.

No Airflow imports here. :func:`campaign_preview` reads what a dry run of the batch or the
sequence operator returns to XCom (``{"summary": {...}, "outcomes": [...]}``) and writes the
body of an approval task, e.g. Airflow's ``ApprovalOperator``: how many messages would go out
from each account (and each variant, when the rows carry one), the first few messages as
they would be sent, and every recipient who would get nothing, with the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from airflow_provider_connectsafely.outreach.outcomes import STATUSES, WOULD_SEND

#: Messages shown in full by default.
MESSAGES_SHOWN = 5
#: Recipients listed in the "not sent" table at most; the rest are counted.
SKIPPED_SHOWN = 50
#: How a status reads in the preview (the others read as they are written).
_STATUS_WORDS = {"skipped": "already sent", "failed": "invalid", "in_flight": "being sent by another task"}


def campaign_preview(
    result: Mapping[str, Any] | None,
    *,
    messages: int = MESSAGES_SHOWN,
    skipped: int = SKIPPED_SHOWN,
    title: str | None = None,
) -> str:
    """Markdown describing a dry run's result, for an approval task's body.

    :param result: the dry run's XCom value: ``{"summary": {...}, "outcomes": [...]}``, each
        outcome a dict with ``recipient``, ``status`` and, when it would be sent, ``message``,
        ``account`` and (from a campaign with variants) ``variant``.
    :param messages: how many of the messages that would go out are shown in full.
    :param skipped: how many recipients who would get nothing are listed (the rest counted).
    :param title: a heading above the preview, e.g. the campaign's name.
    :raises ValueError: ``result`` is not a dry run's result (the message says what it is).
    """
    outcomes = _outcomes(result)
    going = [o for o in outcomes if o.get("status") == WOULD_SEND]
    staying = [o for o in outcomes if o.get("status") != WOULD_SEND]
    lines: list[str] = [f"## {_text(title)}", ""] if title else []
    lines.append(
        f"**{len(going)} message(s) would go out** to {len(outcomes)} recipient(s) offered; "
        f"{len(staying)} would get nothing."
    )
    lines += ["", *_counts_table(going)]
    if going:
        lines += ["", f"### The first {min(messages, len(going))} of {len(going)} message(s)"]
        for outcome in going[:messages]:
            lines += ["", *_message(outcome)]
    if staying:
        lines += ["", f"### Not sent ({len(staying)})", "", *_not_sent_table(staying, skipped)]
    return "\n".join(lines) + "\n"


def _outcomes(result: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(result, Mapping) or not isinstance(result.get("outcomes"), list):
        raise ValueError(
            f"campaign_preview needs a dry run's result ({{'summary': ..., 'outcomes': [...]}}), got "
            f"{type(result).__name__}: pass the XCom of a batch or sequence task run with dry_run=True"
        )
    if not (result.get("summary") or {}).get("dry_run", True):
        raise ValueError(
            "campaign_preview was given the result of a real send (summary dry_run is false): pass the "
            "XCom of the task run with dry_run=True"
        )
    return [o for o in result["outcomes"] if isinstance(o, Mapping)]


def _counts_table(going: list[Mapping[str, Any]]) -> list[str]:
    """Messages per account, and per variant when any row names one."""
    with_variant = any(o.get("variant") is not None for o in going)
    keys = Counter(
        (str(o.get("account") or "default"), str(o.get("variant") or "-") if with_variant else "")
        for o in going
    )
    head = ["Account", "Variant", "Messages"] if with_variant else ["Account", "Messages"]
    rows = [
        [account, variant, str(count)] if with_variant else [account, str(count)]
        for (account, variant), count in sorted(keys.items())
    ]
    return _table(head, rows) if rows else ["Nothing would be sent."]


def _message(outcome: Mapping[str, Any]) -> list[str]:
    facts = [f"from {outcome.get('account') or 'default'}"]
    for name in ("variant", "step"):
        if outcome.get(name) is not None:
            facts.append(f"{name} {outcome[name]}")
    if outcome.get("reason"):
        facts.append(str(outcome["reason"]))
    text = str(outcome.get("message") if outcome.get("message") is not None else outcome.get("note") or "")
    # A fence longer than any run of backticks in the text keeps it verbatim.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
    header = f"**To {_text(outcome.get('recipient'))}** ({_text('; '.join(facts))})"
    return [header, "", f"{fence}text", text, fence]


def _not_sent_table(staying: list[Mapping[str, Any]], limit: int) -> list[str]:
    rows = [
        [
            _cell(o.get("recipient")),
            _cell(_STATUS_WORDS.get(str(o.get("status")), o.get("status"))),
            _cell(o.get("reason") or o.get("error") or ""),
        ]
        for o in _by_status(staying)[:limit]
    ]
    lines = _table(["Recipient", "Why", "Detail"], rows)
    if len(staying) > limit:
        lines += ["", f"... and {len(staying) - limit} more (every row is in the dry run's XCom)."]
    return lines


def _by_status(outcomes: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failures first (someone must fix them), then the order of :data:`STATUSES`; others last."""
    order = {name: n for n, name in enumerate(dict.fromkeys(("failed", *STATUSES)))}
    return sorted(outcomes, key=lambda o: order.get(str(o.get("status")), len(order)))


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(" --- " for _ in head) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _cell(value: Any) -> str:
    """One table cell: on one line, its pipes escaped."""
    return " ".join(_text(value).split()).replace("|", "\\|")


def _text(value: Any) -> str:
    """Text from the data, its Markdown and HTML specials escaped so it reads as written."""
    text = "" if value is None else str(value)
    for special in ("\\", "`", "*", "_", "[", "]", "<", ">", "#"):
        text = text.replace(special, "\\" + special)
    return text
