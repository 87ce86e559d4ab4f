"""Benchmark 8: pacing from the rate-limit headers, at the documented 60 requests a minute.

300 sends (120 with ``--quick``) through ``ConnectSafelyClient`` to the emulator started
with ``rate_limit=60, rate_window=60``, in three ways:

- **ours**: the client as the hook builds it; its pacer reads ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset`` and waits for the reset when the window is used up;
- **no pacing**: ``RequestPacer.off()``; the retry policy waits out each 429 (its reset is
  within ``max_rate_limit_wait``), as the client did before pacing;
- **fixed spacing**: no pacing, 1 s between an answer and the next request: what the batch
  operator's ``min_interval=1`` (``jitter=0``) gives, the spacing that stays under 60 a
  minute without reading any header.

A minute-long window makes real time too long (about 4 minutes per way), so the run is
simulated: time-machine stops the clock of this process (the client's, the pacer's and the
emulator's, which runs in a thread here), every wait moves it forward instead of sleeping,
and every request moves it forward by ``ROUND_TRIP`` (a round trip to the real API; on
loopback it is a fraction of a millisecond). Requests are real HTTP over loopback. Counted
by the emulator: requests received, 429s answered. Time: the simulated clock from the
first request to the last answer. The lower bound is what the limit forces: every window
but the last one full, then the last window's requests. The run is deterministic: one
sample per way. Every way must deliver each message exactly once.

Run alone: ``python -m benchmarks.rate_pacing [--quick]``.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from benchmarks.harness import Result, Row, benchmark_main

NAME = "rate_pacing"
TITLE = "Request-rate pacing"
LIMIT = 60  # requests per window: the documented rate
WINDOW = 60.0  # seconds
ROUND_TRIP = 0.25  # simulated seconds per request
SPACING = 1.0  # seconds between an answer and the next request (fixed spacing)
SENDS = 300
QUICK_SENDS = 120
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
KEY = "bench-rate-key"


@dataclass(frozen=True)
class Way:
    """One way of sending, measured."""

    name: str
    requests: int
    refused: int
    seconds: float
    waits: int


def forced_seconds(sends: int) -> float:
    """The least time ``sends`` requests can take at ``LIMIT`` per ``WINDOW``."""
    windows = math.ceil(sends / LIMIT)
    return (windows - 1) * WINDOW + (sends - (windows - 1) * LIMIT) * ROUND_TRIP


def measure(way: str, sends: int) -> Way:
    import time_machine

    from airflow_provider_connectsafely.api.client import ConnectSafelyClient
    from airflow_provider_connectsafely.api.conversation_send import build_send_request
    from airflow_provider_connectsafely.api.pacing import RequestPacer
    from airflow_provider_connectsafely.emulator import EmulatorServer

    with (
        time_machine.travel(START, tick=False) as traveller,
        EmulatorServer(api_key=KEY, rate_limit=LIMIT, rate_window=WINDOW, daily_limit=10**9) as emulator,
    ):
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            traveller.shift(seconds)

        pacer = None if way == "ours" else RequestPacer.off()
        client = ConnectSafelyClient(KEY, emulator.url, sleep=sleep, pacer=pacer)
        _add_round_trip(client, lambda: traveller.shift(ROUND_TRIP))
        started = datetime.now(timezone.utc)
        for n in range(sends):
            if way == "fixed spacing" and n:
                sleep(SPACING)
            client.send(build_send_request(endpoint="messaging", message="Hi", recipient_profile_id=f"p{n}"))
        seconds = (datetime.now(timezone.utc) - started).total_seconds()
        statuses = Counter(r["status"] for r in emulator.requests())
        refused = emulator.rate_limit()["refused"]
        delivered = Counter(m["recipientProfileId"] for m in emulator.messages())
        client.close()
    if set(delivered) != {f"p{n}" for n in range(sends)} or max(delivered.values()) != 1:
        raise RuntimeError(f"{way}: the emulator did not receive each message exactly once")
    if statuses[429] != refused or statuses[200] != sends:
        raise RuntimeError(f"{way}: unexpected answers {dict(statuses)}")
    spacing = sends - 1 if way == "fixed spacing" else 0
    return Way(way, sum(statuses.values()), refused, seconds, len(waits) - spacing)


def _add_round_trip(client: Any, advance: Callable[[], object]) -> None:
    """Move the stopped clock forward by a round trip after each request."""
    session = client.session
    request = session.request

    def timed(*args: Any, **kwargs: Any) -> Any:
        answer = request(*args, **kwargs)
        advance()
        return answer

    session.request = timed


def run(quick: bool = False) -> Result:
    sends = QUICK_SENDS if quick else SENDS
    ours, bare, spaced = (measure(way, sends) for way in ("ours", "no pacing", "fixed spacing"))
    forced = forced_seconds(sends)

    def fmt(way: Way) -> str:
        return f"{way.requests:,} requests, {way.refused} 429s, {way.seconds:,.1f} s"

    lines = [
        "| Way | requests made | 429s drawn | total time (simulated) | of the forced minimum | waits |",
        "|---|---|---|---|---|---|",
    ]
    for way in (ours, bare, spaced):
        lines.append(
            f"| {way.name} | {way.requests:,} | {way.refused} | {way.seconds:,.2f} s "
            f"| {way.seconds / forced:.3f}x | {way.waits} |"
        )
    details = "\n".join(lines) + (
        f"\n\n{sends:,} sends at {LIMIT} requests per {WINDOW:g} s, {ROUND_TRIP:g} s per round trip "
        f"(simulated). Forced minimum: {forced:,.2f} s ({math.ceil(sends / LIMIT) - 1} full window(s), "
        f"then the last window's requests). *waits*: pacing waits for ours, 429 waits for no "
        f"pacing, the {SPACING:g} s gaps not counted for fixed spacing. Without pacing, each "
        "window's first request over the limit draws a 429, which the retry policy waits out "
        "until the reset: about as fast, but every window costs a refused request (and a "
        "warning in the task log). Pacing cannot see the requests of other workers on the same "
        "key: there 429s remain possible, handled as without pacing. Fixed spacing draws no 429 "
        "but leaves part of every window unused."
    )
    row = Row(
        benchmark=f"{sends:,} sends at {LIMIT} requests/minute: requests, 429s, total time (simulated)",
        ours=fmt(ours),
        alternatives=f"no pacing {fmt(bare)}; fixed {SPACING:g} s spacing {fmt(spaced)}",
        ratio=(
            f"time {ours.seconds / forced:.3f}x the forced minimum ({forced:,.1f} s); no pacing "
            f"{bare.seconds / forced:.3f}x; fixed spacing {spaced.seconds / forced:.2f}x"
        ),
        target="0 429s, time close to the forced minimum",
        met=ours.refused == 0 and ours.seconds <= forced * 1.05,
    )
    return Result(NAME, TITLE, [row], details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rate_pacing")
    return benchmark_main(NAME, parser, lambda args: None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
