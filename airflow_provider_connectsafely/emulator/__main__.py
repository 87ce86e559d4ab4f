"""Command line: ``connectsafely-emulator --port 8099 --api-key KEY`` (or ``python -m``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .rate_limit import DEFAULT_WINDOW, RESET_FORMATS
from .server import EmulatorServer

ENV_API_KEY = "CONNECTSAFELY_EMULATOR_API_KEY"
DEFAULT_API_KEY = "emulator-key"
_EPILOG = """\
endpoints (Bearer key): GET /linkedin/accounts, GET /linkedin/account/status,
  POST /linkedin/messaging/send, POST /linkedin/messaging/send-with-typing,
  POST /linkedin/conversations/send, GET /linkedin/conversations,
  GET /linkedin/conversations/{conversationUrn}/messages, GET /linkedin/messaging/recent-messages,
  POST /linkedin/connect, GET /linkedin/relationship/{profileId}
control (no auth): GET /_emulator/messages, /requests, /counts, /conversations, /rate-limit;
  POST /_emulator/reset; POST|GET|DELETE /_emulator/faults;
  POST /_emulator/reply {"profileId"|"conversationUrn", "text", "at"?, "accountId"?};
  POST /_emulator/accept {"profileId", "accountId"?}
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectsafely-emulator",
        description="Run a local emulator of the ConnectSafely API until SIGINT/SIGTERM.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port, 0 for any free one (default: 8099)")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"bearer key clients must send (default: ${ENV_API_KEY}, else '{DEFAULT_API_KEY}')",
    )
    parser.add_argument(
        "--daily-limit", type=int, default=150, help="messages per account per UTC day (default: 150)"
    )
    parser.add_argument(
        "--account",
        action="append",
        dest="accounts",
        metavar="ID",
        help="account id (repeatable; the first is the default)",
    )
    parser.add_argument(
        "--weekly-connect-limit",
        type=int,
        default=90,
        help="connection requests per account per week, from Monday 00:00 UTC (default: 90)",
    )
    parser.add_argument(
        "--connected",
        action="append",
        default=[],
        metavar="PROFILE",
        help="profile id or URN already connected to every account (repeatable)",
    )
    parser.add_argument(
        "--thread-in-send-answers",
        action="store_true",
        help="add conversationUrn and threadId to /linkedin/messaging/send* answers",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests per window for the API key, past which 429 (default: no limit; "
        "the documented API allows 60 a minute)",
    )
    parser.add_argument(
        "--rate-window",
        type=float,
        default=DEFAULT_WINDOW,
        metavar="SECONDS",
        help=f"length of the request window in seconds (default: {DEFAULT_WINDOW:g})",
    )
    parser.add_argument(
        "--rate-reset-format",
        choices=RESET_FORMATS,
        default="iso",
        help="X-RateLimit-Reset of the request window as ISO 8601 or Unix seconds (default: iso)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground; returns the exit status."""
    args = _parser().parse_args(argv)
    api_key = args.api_key or os.environ.get(ENV_API_KEY) or DEFAULT_API_KEY
    try:
        server = EmulatorServer(
            api_key,
            args.host,
            args.port,
            args.daily_limit,
            args.accounts,
            verbose=args.verbose,
            weekly_connect_limit=args.weekly_connect_limit,
            connected=args.connected,
            thread_in_send_answers=args.thread_in_send_answers,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window,
            rate_reset_format=args.rate_reset_format,
        ).start()
    except (OSError, ValueError) as exc:
        print(f"connectsafely-emulator: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"ConnectSafely emulator listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
