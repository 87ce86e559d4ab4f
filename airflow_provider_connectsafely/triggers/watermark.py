"""Where :class:`~airflow_provider_connectsafely.triggers.reply_events.LinkedInRepliesEventTrigger`
remembers which replies it has delivered: a row of the send ledger's database
(:mod:`~airflow_provider_connectsafely.ledger.trigger_state`), one per watcher.

Airflow rebuilds an event trigger from its serialised kwargs after a triggerer restart, and
may run it on any triggerer of the deployment, so its memory must live outside it and outside
any one machine; its kwargs must not change (they identify the trigger). Each write is a
compare-and-set: if another triggerer wrote meanwhile, the two memories are merged, never
overwritten.

A watermark holds the newest delivered reply's ``sentAt`` and the ``messageUrn`` of every reply
delivered within ``lookback`` of it, so replies with equal times, and replies the API lists a
little late, are neither lost nor delivered twice.

Release 0.1 kept the watermark in a JSON file under ``$AIRFLOW_HOME`` (or ``state_path``):
such a file is read once, when a watcher has no row yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_connectsafely.clock import parse_utc
from airflow_provider_connectsafely.triggers.polling import iso

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.trigger_state import StoredState, TriggerStateStore


def state_key(conn_id: str, account_id: str | None, key: str = "") -> str:
    """The ledger key of one watcher: connection, account and ``watermark_key``."""
    return f"reply-watermark:{conn_id}|{account_id or ''}|{key}"


@dataclass
class Watermark:
    """What one watcher has delivered.

    :param at: the newest delivered reply's ``sentAt`` (or the start time before any reply).
    :param seen: ``messageUrn`` → ``sentAt`` of replies delivered within ``lookback`` of ``at``.
    """

    at: datetime
    seen: dict[str, datetime] = field(default_factory=dict)

    def query_since(self, lookback: timedelta) -> datetime:
        """What to ask the API for: a little before the watermark, to catch late or tied replies."""
        return self.at - lookback

    def is_new(self, reply: dict) -> bool:
        return str(reply.get("messageUrn")) not in self.seen

    def record(self, reply: dict, lookback: timedelta) -> None:
        """Mark a reply delivered; forget URNs too old to be listed again."""
        self.seen[str(reply["messageUrn"])] = parse_utc(reply["sentAt"])
        self.at = max(self.at, self.seen[str(reply["messageUrn"])])
        self._forget(lookback)

    def merge(self, other: Watermark, lookback: timedelta) -> None:
        """Take in what another writer delivered (the union of both memories)."""
        self.seen.update(other.seen)
        self.at = max(self.at, other.at)
        self._forget(lookback)

    def _forget(self, lookback: timedelta) -> None:
        horizon = self.query_since(lookback)
        self.seen = {urn: at for urn, at in self.seen.items() if at >= horizon}

    def to_dict(self) -> dict:
        return {"at": iso(self.at), "seen": {urn: iso(at) for urn, at in self.seen.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> Watermark:
        return cls(
            at=parse_utc(data["at"]), seen={urn: parse_utc(at) for urn, at in data.get("seen", {}).items()}
        )


class WatermarkStore:
    """One watcher's watermark in the ledger.

    :param states: the ledger's trigger state.
    :param key: from :func:`state_key`.
    """

    def __init__(self, states: TriggerStateStore, key: str) -> None:
        self.states = states
        self.key = key
        self._read: StoredState | None = None

    def load(self) -> Watermark | None:
        """The stored watermark, or None when there is none yet."""
        self._read = self.states.load(self.key)
        return None if self._read is None else Watermark.from_dict(self._read.state)

    def save(self, mark: Watermark, lookback: timedelta) -> None:
        """Store ``mark``; when another writer stored first, merge theirs into ``mark`` and retry."""
        while True:
            written = self.states.save(self.key, mark.to_dict(), self._read)
            if written is not None:
                self._read = written
                return
            theirs = self.load()
            if theirs is not None:
                mark.merge(theirs, lookback)


# -- release 0.1's files ------------------------------------------------------------------


def legacy_file(conn_id: str, account_id: str | None, key: str = "", state_path: str | None = None) -> Path:
    """Where release 0.1 kept a watcher's watermark: ``state_path``, else a file under
    ``$AIRFLOW_HOME/connectsafely/reply-watermarks`` named by connection, account and key."""
    if state_path:
        return Path(state_path)
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    ident = f"{conn_id}|{account_id or ''}|{key}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{conn_id}-{account_id or 'default'}-{key}".strip("-"))[:80]
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    return Path(home) / "connectsafely" / "reply-watermarks" / f"{slug}-{digest}.json"


def load_file(path: Path) -> Watermark | None:
    """A watermark file written by release 0.1, or None when there is none."""
    try:
        return Watermark.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
