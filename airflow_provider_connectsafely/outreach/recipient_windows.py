"""Sending windows per recipient: whose window is open now, and the wait that holds the rest.

No Airflow imports here. The operators build a :class:`RecipientWindows` from ``send_window``,
``timezone`` and ``timezone_field``; the batch and the sequence send to the recipients whose
window is open and then raise :class:`WindowClosed` for the rest, a single send raises it
before its claim.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_connectsafely import defaults
from airflow_provider_connectsafely.clock import Clock, utc_now
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.outreach.delivery import WaitRequired
from airflow_provider_connectsafely.outreach.windows import SendWindow, check_timezone, zone_of

#: Time zones named one by one in a wait's reason; the rest are counted.
ZONES_SHOWN = 5


class WindowClosed(WaitRequired):
    """Sending waits for a sending window to open. Not a limit: the wait does not count
    toward ``max_defer``.

    :param reset_at: when the earliest held recipient's window opens (UTC).
    :param reason: which window, for how many recipients, in which time zones.
    """


@dataclass
class RecipientWindows:
    """A sending window read on each recipient's clock.

    :param window: the parsed ``send_window``.
    :param timezone: the IANA time zone of recipients whose row names none.
    :param timezone_field: the key of a recipient's row that holds their time zone; None:
        every recipient uses ``timezone``.
    :param clock: the current time.
    """

    window: SendWindow
    timezone: str = defaults.SEND_WINDOW_TIMEZONE
    timezone_field: str | None = None
    clock: Clock = utc_now
    _openings: dict[str, tuple[datetime, datetime]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def build(
        cls,
        send_window: object,
        timezone: object = None,
        timezone_field: str | None = None,
        clock: Clock | None = None,
    ) -> RecipientWindows:
        """Check the task's arguments and build the policy.

        :raises ConnectSafelyValidationError: a bad window or time zone (names the parameter).
        """
        window = SendWindow.parse(send_window)
        zone = defaults.SEND_WINDOW_TIMEZONE if timezone is None else check_timezone(timezone)
        return cls(window, zone, timezone_field or None, clock or utc_now)

    def timezone_of(self, data: Any, where: str = "recipient") -> str:
        """The recipient's time zone: their row's ``timezone_field`` when set, else ``timezone``.

        :raises ConnectSafelyValidationError: the row names no time zone that exists.
        """
        value = data.get(self.timezone_field) if self.timezone_field and isinstance(data, dict) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.timezone
        return check_timezone(value, f"{where}.{self.timezone_field}")

    def screen(self, items: Iterable[Any]) -> None:
        """Mark invalid (as failed, never sent) the prepared items whose row names a time
        zone that does not exist: checked with the rest before anything is sent."""
        for item in items:
            if item.request is None:
                continue
            try:
                self.timezone_of(item.data, f"recipients[{item.index}]")
            except ConnectSafelyValidationError as exc:
                item.error, item.request = exc, None

    def opens_at(self, tz: str) -> datetime | None:
        """None while the window is open in ``tz``; else when it opens (UTC)."""
        now = self.clock()
        opening = self._openings.get(tz)
        if opening is None or now >= opening[1]:
            opening = self._openings[tz] = self.window.opening(now, tz)
        return None if opening[0] <= now else opening[0]

    def note(self, tz: str) -> str | None:
        """None while the window is open in ``tz``; else why a send waits, and until when."""
        opens = self.opens_at(tz)
        return None if opens is None else f"outside the send window until {self.local(opens, tz)}"

    def check(self, tz: str) -> None:
        """Return while the window is open in ``tz``.

        :raises WindowClosed: it is closed; ``reset_at`` is when it opens.
        """
        opens = self.opens_at(tz)
        if opens is not None:
            raise self.closed([tz])

    def closed(self, held: list[str]) -> WindowClosed:
        """The wait for recipients held in the time zones ``held`` (one entry per recipient)."""
        per_zone = Counter(held)
        opens = {tz: self.opens_at(tz) or self.clock() for tz in per_zone}
        zones = sorted(per_zone, key=lambda tz: opens[tz])
        shown = [f"{per_zone[tz]} in {tz} (opens {self.local(opens[tz], tz)})" for tz in zones[:ZONES_SHOWN]]
        if len(zones) > ZONES_SHOWN:
            shown.append(f"{sum(per_zone[tz] for tz in zones[ZONES_SHOWN:])} in other time zones")
        reason = (
            f"The send window {self.window.text!r} is closed for {len(held)} recipient(s): {', '.join(shown)}"
        )
        return WindowClosed(opens[zones[0]], reason)

    @staticmethod
    def local(at: datetime, tz: str) -> str:
        """``at`` on the clock of ``tz``, with its weekday: ``Mon 2026-06-08T09:00:00+02:00``."""
        local = at.astimezone(zone_of(tz))
        return f"{local:%a} {local.isoformat(timespec='seconds')}"
