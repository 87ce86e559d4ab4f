"""What triggers remember between runs, in the ledger's database (no Airflow imports here).

Airflow may run a trigger on any triggerer of a deployment, and starts it again elsewhere when
its triggerer dies: state kept on one machine's disk would be lost or split. Each key holds one
JSON document and a version; a write names the version it read and fails when another writer
came first (compare-and-set), so the caller reloads and merges instead of overwriting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger


@dataclass(frozen=True)
class StoredState:
    """One key's document and the version it was read at."""

    state: dict[str, Any]
    version: int


class TriggerStateStore:
    """Trigger state by key, in ``connectsafely_trigger_state``.

    :param ledger: the send ledger whose database holds it.
    """

    def __init__(self, ledger: SendLedger) -> None:
        self.ledger = ledger

    def load(self, key: str) -> StoredState | None:
        """The stored document, or None when the key has none yet."""
        from sqlalchemy import select

        from airflow_provider_connectsafely.ledger.schema import trigger_state as table

        self.ledger.ensure_schema()
        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(table.c.state, table.c.version).where(table.c.key == key)).first()
        return None if row is None else StoredState(json.loads(row.state), int(row.version))

    def save(self, key: str, state: dict[str, Any], read: StoredState | None) -> StoredState | None:
        """Write ``state`` if the key is still at the version ``read`` saw (absent when None).

        :returns: the new stored state, or None when another writer changed the key first.
        """
        from sqlalchemy import update

        from airflow_provider_connectsafely.ledger.schema import trigger_state as table

        self.ledger.ensure_schema()
        body = json.dumps(state, sort_keys=True)
        now = self.ledger.clock()
        with self.ledger.engine.begin() as conn:
            if read is None:
                values = {"key": key, "state": body, "version": 1, "updated_at": now}
                won = conn.execute(self.ledger.insert_if_absent(table, values, "key")).first() is not None
                return StoredState(state, 1) if won else None
            changed = conn.execute(
                update(table)
                .where(table.c.key == key, table.c.version == read.version)
                .values(state=body, version=read.version + 1, updated_at=now)
            ).rowcount
        return StoredState(state, read.version + 1) if changed == 1 else None
