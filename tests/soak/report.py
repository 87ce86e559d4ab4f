"""The soak run's report, in Markdown (tests/soak)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from invariants import INVARIANTS
from population import ACCOUNTS, RECONTACT_AFTER


def render(soak: Any, report: dict[str, Any]) -> str:
    sent = report["sent"]
    days = sorted({s.at.date() for s in sent})
    lines = [
        f"# Soak run: {soak.days} simulated days, seed {soak.seed}",
        "",
        f"- Wall time: {report['wall_seconds']} s; ticks run: "
        f"{sum(1 for t in soak.ticks if t.dags)} of {len(soak.ticks)}; "
        f"API requests: {report['requests']}",
        f"- Defect injected: {soak.defect or 'none'}; faults: {'on' if soak.faults else 'off'}",
        f"- Replies written: {len(soak.world.replies)}; invitations accepted: {len(soak.world.accepted)}",
        "",
        "## Sends per day and account (messages / invitations)",
        "",
        "| Day | " + " | ".join(a[:6] for a in ACCOUNTS) + " |",
        "|---|" + "---|" * len(ACCOUNTS),
    ]
    per = Counter((s.at.date(), s.account, s.kind == "connect") for s in sent)
    for day in days:
        cells = [f"{per[(day, a, False)]} / {per[(day, a, True)]}" for a in ACCOUNTS]
        lines.append(f"| {day} {day.strftime('%a')} | " + " | ".join(cells) + " |")
    kinds = Counter(s.kind for s in sent)
    lines += ["", "Totals: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())), ""]
    states = Counter(r["state"] for r in report["ledger"]["sends"])
    lines += ["## Ledger", "", "Rows by state: " + ", ".join(f"{k} {n}" for k, n in sorted(states.items()))]
    settled = dict(report.get("settled", []))
    for row in report["ledger"]["sends"]:
        if row["state"] in ("unknown", "pending"):
            why = (row.get("error") or "").split(". ")[0]
            lines.append(
                f"- {row['state']}: `{row['dedupe_key']}` ({why[:120]}); settled at the end as "
                f"{settled.get(row['dedupe_key'], '?')} from the emulator's record"
            )
    opt = report["opt_outs"]
    lines += [
        "",
        "## Opt-outs",
        "",
        f"Replies asking to stop: {opt['written']}; people on the do-not-contact list from a "
        f"reply: {opt['suppressed']}; the single send pointed at an opted-out person "
        f"{opt['recontacted']} time(s), {RECONTACT_AFTER.total_seconds() / 3600:g} hours after the API had "
        "the reply:",
    ]
    for again in soak.world.recontacted:
        result = next((t.results.get("soak_single", {}) for t in soak.ticks if t.number == again["tick"]), {})
        lines.append(f"- {again['person']} at {again['at']}: {result.get('status') or result.get('state')}")
    lines += ["", "## Sequence people at the end", ""]
    lines += [f"- {k}: {n}" for k, n in sorted(report["finals"].items())]
    faults = getattr(soak, "fault_record", [])
    lines += ["", f"## Faults injected ({len(faults)})", ""]
    for fault in faults:
        lines.append(f"- {fault['at']} {fault['name']}: {fault.get('effect', '')}")
    exits = Counter(t.exit for t in soak.ticks if t.dags)
    lines += ["", "## Workers", "", ", ".join(f"{k}: {n}" for k, n in sorted(exits.items()))]
    states_by_dag: Counter = Counter()
    for t in soak.ticks:
        for dag, result in t.results.items():
            states_by_dag[(dag, result.get("state"))] += 1
    lines += [", ".join(f"{d} {s}: {n}" for (d, s), n in sorted(states_by_dag.items()))]
    explained = report["rate"].get("explained", [])
    lines += ["", f"## API requests (rate-window 429s explained by fault answers: {len(explained)})", ""]
    lines += [f"- explained 429: {e}" for e in explained]
    lines += [f"- {path}: {n}" for path, n in sorted(report["counts"].items())]
    walls = sorted(t.wall for t in soak.ticks if t.dags)
    if walls:
        lines += ["", f"Tick wall time: median {walls[len(walls) // 2]:.2f} s, max {walls[-1]:.2f} s"]
    lines += ["", "## Invariants", ""]
    failed = Counter(v["invariant"] for v in report["violations"])
    for name, words in INVARIANTS.items():
        lines.append(
            f"- {'FAILED' if failed[name] else 'held'}: {name}: {words}"
            + (f" ({failed[name]})" if failed[name] else "")
        )
    if report["violations"]:
        lines += ["", "### Violations (first 40)", ""]
        lines += [f"- {v['invariant']}: {v['detail']}" for v in report["violations"][:40]]
    return "\n".join(lines) + "\n"
