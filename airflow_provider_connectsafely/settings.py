"""Connection settings read from an Airflow connection's fields. No Airflow imports here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_connectsafely import defaults, errors
from airflow_provider_connectsafely.api.client import normalize_base_url
from airflow_provider_connectsafely.connection_form import CONN_TYPE


@dataclass(frozen=True)
class ConnectionSettings:
    """What a ConnectSafely connection holds, checked.

    :param api_key: the API key (the connection's password).
    :param base_url: API root with scheme.
    :param account_id: default LinkedIn account ID, or None.
    :param timeout: read timeout in seconds.
    :param verify: TLS verification (True, or a CA bundle path; False only when asked for).
    """

    api_key: str
    base_url: str
    account_id: str | None = None
    timeout: float = defaults.TIMEOUT
    verify: bool | str = True
    ledger_conn_id: str | None = None
    daily_limit: int | None = None

    def __repr__(self) -> str:
        return f"ConnectionSettings(base_url={self.base_url!r}, account_id={self.account_id!r})"

    @classmethod
    def from_fields(
        cls,
        conn_id: str,
        *,
        password: str | None,
        host: str | None,
        port: int | None,
        schema: str | None,
        extra: dict[str, Any],
    ) -> ConnectionSettings:
        """Build settings from a connection's fields.

        :raises ConnectSafelyConfigError: naming the connection and the fix.
        """
        if not password or not password.strip():
            raise errors.ConnectSafelyConfigError(
                f"Connection {conn_id!r} has no API key. Fix: put the ConnectSafely API key in "
                "the connection's password field (shown as 'API Key' in the UI)"
            )
        base = host or ""
        if base and "://" not in base and schema in ("http", "https"):
            base = f"{schema}://{base}"
        if base and port and not _has_port(base):
            base = _with_port(base, port)
        try:
            base_url = normalize_base_url(base)
        except errors.ConnectSafelyConfigError as exc:
            raise errors.ConnectSafelyConfigError(f"Connection {conn_id!r}: {exc.message}") from None
        return cls(
            api_key=password.strip(),
            base_url=base_url,
            account_id=(str(_extra(extra, "account_id") or "").strip() or None),
            timeout=_positive_number(conn_id, "timeout", _extra(extra, "timeout"), defaults.TIMEOUT),
            verify=_verify(conn_id, _extra(extra, "verify")),
            ledger_conn_id=(str(_extra(extra, "ledger_conn_id") or "").strip() or None),
            daily_limit=_daily_limit(conn_id, _extra(extra, "daily_limit")),
        )


def _extra(extra: dict[str, Any], name: str) -> Any:
    """Extras are stored plain (``account_id``) or, by older UIs, prefixed."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{CONN_TYPE}__{name}")
    return None if value == "" else value


def _positive_number(conn_id: str, name: str, value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0:
        raise errors.ConnectSafelyConfigError(
            f"Connection {conn_id!r}: extra {name!r} is {value!r}. Fix: use a positive number of seconds"
        )
    return number


def _daily_limit(conn_id: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise errors.ConnectSafelyConfigError(
            f"Connection {conn_id!r}: extra 'daily_limit' is {value!r}. Fix: use a whole number "
            "of messages per account per day (0 for no cap)"
        )
    return number


def _verify(conn_id: str, value: Any) -> bool | str:
    if value is None or value is True:
        return True
    if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0", "no")):
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"):
        return True
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise errors.ConnectSafelyConfigError(
        f"Connection {conn_id!r}: extra 'verify' is {value!r}. Fix: use true, false or a CA bundle path"
    )


def _has_port(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url if "://" in url else f"https://{url}").port is not None


def _with_port(url: str, port: int) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host, slash, path = rest.partition("/")
    joined = f"{host}:{port}{slash}{path}"
    return f"{scheme}://{joined}" if scheme else joined
