"""The ``connectsafely://`` asset URIs, checked when an ``Asset`` is made (no Airflow here).

Forms (get_provider_info registers :func:`sanitize_uri` for the scheme, so Airflow calls it
for every ``Asset("connectsafely://...")``):

- ``connectsafely://replies/<account>``: the replies of one LinkedIn account, as the
  ``AssetWatcher`` of :mod:`~airflow_provider_connectsafely.triggers.reply_events` emits them
  (``default`` for the connection's default account);
- ``connectsafely://campaign/<name>``: one outreach campaign, e.g. the outlet of a batch or
  sequence task.

Anything else raises ``ValueError`` when the DAG file is parsed: no kind, an unknown kind, a
user, password or port, no name or a name of more than one path segment, a query string. The
kind is lower-cased (like a host name), trailing slashes go; the name is kept as written. A
fragment is refused too, though Airflow drops fragments from every asset URI before it asks.
"""

from __future__ import annotations

from urllib.parse import SplitResult

SCHEME = "connectsafely"
#: The kinds of asset, each followed by what its one path segment names.
KINDS = {"replies": "account", "campaign": "name"}

_FORMS = " or ".join(f"{SCHEME}://{kind}/<{what}>" for kind, what in KINDS.items())


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Check a ``connectsafely://`` URI and return it normalised; ``ValueError`` when malformed.

    Airflow has already lower-cased the scheme, stripped trailing slashes (an empty path
    becomes ``/``), sorted the query and dropped any fragment before it calls this.
    """
    text = f"{uri.scheme}://{uri.netloc}{uri.path}"
    text += f"?{uri.query}" if uri.query else ""
    text += f"#{uri.fragment}" if uri.fragment else ""

    def bad(reason: str) -> ValueError:
        return ValueError(f"Asset URI {text!r}: {reason}; expected {_FORMS}")

    if uri.scheme.lower() != SCHEME:
        raise bad(f"the scheme is not {SCHEME}://")
    if not uri.netloc:
        raise bad("no kind after connectsafely://")
    if "@" in uri.netloc or ":" in uri.netloc:
        raise bad("a user, password or port has no meaning here")
    kind = uri.netloc.lower()
    if kind not in KINDS:
        raise bad(f"unknown kind {uri.netloc!r}")
    if uri.query:
        raise bad("a query string has no meaning here")
    if uri.fragment:
        raise bad("a fragment has no meaning here")
    path = uri.path.rstrip("/")
    name = path[1:] if path.startswith("/") else path
    if not name:
        raise bad(f"no {KINDS[kind]} after {SCHEME}://{kind}/")
    if "/" in name:
        raise bad(f"the {KINDS[kind]} must be one path segment, not {name!r}")
    return uri._replace(scheme=SCHEME, netloc=kind, path=f"/{name}")
