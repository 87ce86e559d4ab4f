"""Print what a running emulator received: ``python -m airflow_provider_connectsafely.emulator.show URL``."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Sequence


def fetch_messages(base_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/_emulator/messages", timeout=5) as answer:
        return list(json.load(answer)["messages"])


def format_messages(messages: list[dict]) -> str:
    lines = [f"{len(messages)} message(s) delivered"]
    for m in messages:
        recipient = m.get("recipientProfileId") or m.get("recipientProfileUrn")
        subject = f" [{m['subject']}]" if m.get("subject") else ""
        text = " ".join(str(m.get("message", "")).split())
        if len(text) > 90:
            text = text[:87] + "..."
        lines.append(f"  #{m['seq']} {m.get('messageType', 'normal'):<6} to {recipient}{subject}: {text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    base_url = args[0] if args else "http://127.0.0.1:8099"
    print(format_messages(fetch_messages(base_url)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
