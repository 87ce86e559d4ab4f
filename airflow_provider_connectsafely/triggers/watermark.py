"""Where :class:`~airflow_provider_connectsafely.triggers.reply_events.LinkedInRepliesEventTrigger`
remembers which replies it has delivered: a small JSON file, one per watcher.

Airflow rebuilds an event trigger from its serialised kwargs after a triggerer restart, so
the trigger's memory must live outside it, and its kwargs must not change (they identify the
trigger). A file under ``$AIRFLOW_HOME`` is written atomically (temporary file, then
``os.replace``) and needs no database or Airflow API, which works the same on Airflow 3.1
and 3.3 and in tests. It is local to the machine: with triggerers on several machines, give
the trigger a ``state_path`` on storage they all mount (see the trigger).

The file holds the watermark (the newest delivered reply's ``sentAt``) and the
``messageUrn`` of every reply delivered within ``lookback`` of it, so replies with equal
times, and replies the API lists a little late, are neither lost nor delivered twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from airflow_provider_connectsafely.triggers.polling import iso, parse_time


def default_state_dir() -> Path:
    """``$AIRFLOW_HOME/connectsafely/reply-watermarks`` (``~/airflow`` when unset)."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return Path(home) / "connectsafely" / "reply-watermarks"


def state_file(conn_id: str, account_id: str | None, key: str = "", state_path: str | None = None) -> Path:
    """The file of one watcher: ``state_path`` when given, else a file under
    :func:`default_state_dir` named by connection, account and ``key``."""
    if state_path:
        return Path(state_path)
    ident = f"{conn_id}|{account_id or ''}|{key}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{conn_id}-{account_id or 'default'}-{key}".strip("-"))[:80]
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    return default_state_dir() / f"{slug}-{digest}.json"


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
        sent = parse_time(reply["sentAt"])
        self.seen[str(reply["messageUrn"])] = sent
        self.at = max(self.at, sent)
        horizon = self.query_since(lookback)
        self.seen = {urn: at for urn, at in self.seen.items() if at >= horizon}


def load(path: Path) -> Watermark | None:
    """The stored watermark, or None when there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Watermark(
        at=parse_time(data["at"]), seen={urn: parse_time(at) for urn, at in data.get("seen", {}).items()}
    )


def save(path: Path, mark: Watermark) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"at": iso(mark.at), "seen": {urn: iso(at) for urn, at in mark.seen.items()}})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
