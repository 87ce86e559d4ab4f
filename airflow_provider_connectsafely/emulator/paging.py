"""Newest-first paging with opaque cursors, shared by the conversation and message lists.

Items are ordered by a key ``(time, seq)``: the time they carry (``sentAt``, ``lastActivityAt``)
and a sequence number that breaks ties in arrival order. A cursor encodes the key of the last
item of a page; the next page holds the items with a smaller key, so items that arrive between
two calls never shift a page (they sort before the cursor and show up on a fresh first page).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

Item = TypeVar("Item")
Key = tuple[datetime, int]
DEFAULT_COUNT = 20
MAX_COUNT = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(key: Key) -> str:
    """An opaque cursor for ``key``."""
    micros = (key[0] - _EPOCH) // _ONE_MICROSECOND
    return base64.urlsafe_b64encode(f"v1:{micros}:{key[1]}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    """The key a cursor of :func:`encode_cursor` encodes.

    :raises ValueError: not such a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        version, micros, seq = raw.split(":")
        if version != "v1":
            raise ValueError(version)
        return _EPOCH + int(micros) * _ONE_MICROSECOND, int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {text!r}") from None


def parse_count(raw: str | None) -> int:
    """The page size from a ``count`` query value: :data:`DEFAULT_COUNT` when absent.

    :raises ValueError: not an integer from 1 to :data:`MAX_COUNT`.
    """
    if raw is None or raw == "":
        return DEFAULT_COUNT
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be an integer from 1 to {MAX_COUNT}")
    return count


def newest_first(
    items: Iterable[Item], key: Callable[[Item], Key], count: int, before: Key | None
) -> tuple[list[Item], Key | None]:
    """One page of ``items``, newest first: up to ``count`` items whose key is below ``before``.

    :param items: the items, in any order.
    :param key: an item's ``(time, seq)`` key.
    :param count: page size.
    :param before: the key from the previous page's cursor, ``None`` for the first page.
    :returns: the page and the key for the next cursor (``None`` when nothing is left).
    """
    ordered = sorted((i for i in items if before is None or key(i) < before), key=key, reverse=True)
    page = ordered[:count]
    return page, key(page[-1]) if len(ordered) > count else None
