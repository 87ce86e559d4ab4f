"""Print what a running emulator received: ``python -m airflow_provider_connectsafely.emulator.show URL``.

``--reply PROFILE_ID TEXT`` makes that person reply (``POST /_emulator/reply``), as the demo
does to show a sequence stopping for someone who answered; ``--accept PROFILE_ID`` makes them
accept the connection request an account sent them (``POST /_emulator/accept``).
"""

from __future__ import annotations

import argparse
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
        recipient = m.get("recipientProfileId") or m.get("recipientProfileUrn") or m.get("conversationUrn")
        subject = f" [{m['subject']}]" if m.get("subject") else ""
        text = " ".join(str(m.get("message", "")).split())
        if len(text) > 90:
            text = text[:87] + "..."
        lines.append(f"  #{m['seq']} {m.get('messageType', 'normal'):<6} to {recipient}{subject}: {text}")
    return "\n".join(lines)


def reply(base_url: str, profile_id: str, text: str) -> dict:
    return _control(base_url, "reply", {"profileId": profile_id, "text": text})


def accept(base_url: str, profile_id: str, account_id: str | None = None) -> dict:
    """Accept the pending invitation to ``profile_id`` (from ``account_id``, or the one that
    sent it when None)."""
    if account_id is None:
        account_id = next(
            (i["accountId"] for i in _invitations(base_url) if i.get("profileId") == profile_id), None
        )
    return _control(base_url, "accept", {"profileId": profile_id, "accountId": account_id})


def _invitations(base_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/_emulator/requests", timeout=5) as answer:
        records = json.load(answer)["requests"]
    return [
        {
            "profileId": (r.get("body") or {}).get("profileId"),
            "accountId": (r.get("body") or {}).get("accountId"),
        }
        for r in records
        if r.get("path") == "/linkedin/connect" and r.get("status") == 200
    ]


def _control(base_url: str, action: str, fields: dict) -> dict:
    body = json.dumps(fields).encode()
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/_emulator/{action}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return dict(json.load(answer))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_connectsafely.emulator.show")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8099")
    parser.add_argument(
        "--reply", nargs=2, metavar=("PROFILE_ID", "TEXT"), help="make this person reply first"
    )
    parser.add_argument("--accept", metavar="PROFILE_ID", help="make this person accept their invitation")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.accept:
        accept(args.url, args.accept)
        print(f"   {args.accept} accepted the connection request")
        return 0
    if args.reply:
        profile_id, text = args.reply
        reply(args.url, profile_id, text)
        print(f"   {profile_id} replied: {text}")
        return 0
    print(format_messages(fetch_messages(args.url)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
