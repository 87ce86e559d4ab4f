"""The FastAPI app the plugin mounts at ``/connectsafely`` in the Airflow API server.

Every route asks the API server's own auth manager: reading needs read access to DAGs
(``requires_access_dag("GET")``), settling and "Do not contact" need edit access to DAG runs
(``requires_access_dag("PUT", DagAccessEntity.RUN)``). The caller is the JWT of the Airflow
UI (its ``_token`` cookie, which a same-origin fetch sends) or an ``Authorization: Bearer``
header. Nothing here migrates the ledger nor returns a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from airflow_provider_connectsafely.clock import Clock, utc_now
from airflow_provider_connectsafely.defaults import WEEKLY_CONNECT_LIMIT
from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.locate import LedgerLocation, LedgerUnavailable
from airflow_provider_connectsafely.ledger.records import PENDING, UNKNOWN, SendState, SettleState
from airflow_provider_connectsafely.plugins import MOUNT, data, location

STATIC = {
    "ledger.js": "text/javascript; charset=utf-8",
    "ledger.css": "text/css; charset=utf-8",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _user_name(user: Any) -> str:
    getter = getattr(user, "get_name", None)
    return str(getter() if callable(getter) else user)


def reader(request: Request) -> str:
    """Authenticated and allowed to read DAGs: the user's name. (A dependency; tests override it.)"""
    raise NotImplementedError  # replaced in create_app by the API server's security check


def settler(request: Request) -> str:
    """Authenticated and allowed to edit DAG runs: the user's name. (A dependency; tests override it.)"""
    raise NotImplementedError  # replaced in create_app by the API server's security check


def airflow_security() -> dict[Callable[..., Any], Callable[..., Any]]:
    """The real checks, from the API server (imported only here: it is heavy)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag

    can_read = requires_access_dag("GET")
    can_settle = requires_access_dag("PUT", DagAccessEntity.RUN)

    # Annotations are strings here (future import): ``Depends`` as a default, not in them.
    def read_check(request: Request, user: Any = Depends(get_user)) -> str:  # noqa: B008
        can_read(request, user)  # 403 unless allowed
        return _user_name(user)

    def settle_check(request: Request, user: Any = Depends(get_user)) -> str:  # noqa: B008
        can_settle(request, user)
        return _user_name(user)

    return {reader: read_check, settler: settle_check}


Reader = Annotated[str, Depends(reader)]
Settler = Annotated[str, Depends(settler)]


def send_filter(
    q: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[SendState | None, Query()] = None,
    campaign: Annotated[str | None, Query(max_length=300)] = None,
    account: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    run_id: Annotated[str | None, Query(max_length=250)] = None,
) -> data.SendFilter:
    """The sends table's filters, from the query string (a dependency of two routes)."""
    return data.SendFilter(q, state, campaign or None, account or None, since, until, run_id or None)


Filtered = Annotated[data.SendFilter, Depends(send_filter)]


def create_app(
    *,
    clock: Clock = utc_now,
    ledger_location: Callable[[], LedgerLocation] = location.ledger_location,
    daily_cap: Callable[[], int] = location.daily_cap,
    security: dict[Callable[..., Any], Callable[..., Any]] | None = None,
) -> FastAPI:
    """The app. ``security`` maps :func:`reader`/:func:`settler` to their checks (the API
    server's when None); tests pass a clock, a ledger location and their own checks."""
    app = FastAPI(
        title="ConnectSafely send ledger",
        description="The ConnectSafely provider's send ledger, for the Airflow UI.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.dependency_overrides.update(airflow_security() if security is None else security)

    def ledger() -> Any:
        try:
            return locate.open_existing(ledger_location(), clock)
        except LedgerUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc

    @app.get("/", include_in_schema=False)
    def page(user: Reader) -> Response:
        return _static("ledger.html", "text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, user: Reader) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "Not found")
        return _static(name, STATIC[name])

    @app.get("/api/today")
    def today(user: Reader) -> dict[str, Any]:
        """Per account: messages since 00:00 UTC against the daily cap, connection requests
        since Monday against the weekly connect cap (the caps the tasks recorded; the fallbacks
        for an account with none); which ledger this is, and a note when the page fell back
        to the default SQLite file while a connection names another ledger."""
        where = ledger_location()
        found = data.today(ledger(), clock(), daily_cap(), WEEKLY_CONNECT_LIMIT)
        return {**found, "ledger": where.describe(), "notice": locate.fallback_notice(where)}

    @app.get("/api/daily")
    def daily(user: Reader) -> dict[str, Any]:
        """Sends per UTC day, the last 30 days."""
        return data.daily(ledger(), clock())

    @app.get("/api/campaigns")
    def campaigns(user: Reader) -> dict[str, Any]:
        """Per campaign: sends per state, enrolments per state."""
        return data.campaigns(ledger())

    @app.get("/api/variants")
    def variants(
        user: Reader, campaign: Annotated[str, Query(min_length=1, max_length=310)]
    ) -> dict[str, Any]:
        """A campaign's results per step and variant (``campaign`` is a ``label`` from
        ``/api/campaigns``): sent, replied, reply rate and its 95% Wilson interval."""
        return data.variants(ledger(), campaign)

    @app.get("/api/sends")
    def sends(
        request: Request,
        user: Reader,
        wanted: Filtered,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        size: Annotated[int, Query(ge=1, le=data.MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        """A page of sends, newest first; ``q`` is the beginning of a recipient's profile ID or
        URN, ``campaign`` a campaign's ``label`` from ``/api/campaigns``, ``since`` and
        ``until`` UTC days (``YYYY-MM-DD``, both included), ``run_id`` a DAG run."""
        return data.sends_page(ledger(), wanted, page=page, size=size, ui_root=_ui_root(request))

    @app.get("/api/sends.csv")
    def sends_csv(user: Reader, wanted: Filtered) -> Response:
        """Every send the filters (as for ``/api/sends``) match, as CSV with the columns of
        ``connectsafely-ledger export``."""
        return StreamingResponse(
            data.sends_csv(ledger(), wanted),
            media_type="text/csv; charset=utf-8",
            headers={
                **_SECURITY_HEADERS,
                "Content-Disposition": 'attachment; filename="connectsafely-sends.csv"',
            },
        )

    @app.get("/api/funnel")
    def funnel(user: Reader, campaign: Annotated[str, Query(min_length=3, max_length=300)]) -> dict[str, Any]:
        """One campaign's funnel (``campaign`` is its ``label`` from ``/api/campaigns``)."""
        return data.funnel(ledger(), campaign)

    @app.get("/api/replies")
    def replies(
        user: Reader, campaign: Annotated[str | None, Query(max_length=300)] = None
    ) -> dict[str, Any]:
        """The latest replies to sequences, newest first; only ``campaign``'s when given."""
        return data.replies(ledger(), campaign or None)

    @app.post("/api/settle")
    def settle(
        request: Request,
        user: Settler,
        dedupe_key: Annotated[str, Body(min_length=1, max_length=512)],
        state: Annotated[SettleState, Body()],
        note: Annotated[str, Body(min_length=1, max_length=2000)],
    ) -> dict[str, Any]:
        """Settle a pending or unknown send by hand as sent or failed, with a note (a JSON
        object ``{"dedupe_key", "state", "note"}``)."""
        if not note.strip():
            raise HTTPException(422, "A note is required: say what you checked on LinkedIn.")
        entry = data.settle(ledger(), dedupe_key, state, note, settled_by=user)
        if entry is None:
            raise HTTPException(
                409, f"No pending or unknown send has that key (only {PENDING} or {UNKNOWN} can be settled)."
            )
        return {"settled": data.row_json(entry, _ui_root(request))}

    @app.post("/api/do-not-contact")
    def do_not_contact(
        user: Settler,
        note: Annotated[str, Body(min_length=1, max_length=2000)],
        dedupe_key: Annotated[str | None, Body(min_length=1, max_length=512)] = None,
        campaign: Annotated[str | None, Body(min_length=1, max_length=300)] = None,
        recipient: Annotated[str | None, Body(min_length=1, max_length=512)] = None,
    ) -> dict[str, Any]:
        """Put a person on the do-not-contact list everywhere, with a note; the same
        permission as settling. The person is the one a send went to (a JSON object
        ``{"dedupe_key", "note"}``) or one who replied to a sequence (``{"campaign",
        "recipient", "note"}``, the campaign as the replies list names it)."""
        if not note.strip():
            raise HTTPException(422, "A note is required: say why they must not be contacted.")
        if (dedupe_key is None) == (campaign is None or recipient is None):
            raise HTTPException(
                422, "Name a send (dedupe_key) or a sequence's person (campaign and recipient)."
            )
        try:
            if dedupe_key is not None:
                person = data.do_not_contact(ledger(), dedupe_key, note, added_by=user)
            else:
                assert campaign is not None and recipient is not None
                person = data.do_not_contact_enrolled(ledger(), campaign, recipient, note, added_by=user)
        except ValueError as exc:
            raise HTTPException(409, str(exc).capitalize() + ".") from exc
        if person is None:
            raise HTTPException(
                404, "No send has that key." if dedupe_key else "No such person in that sequence."
            )
        return {"do_not_contact": person}

    return app


def _ui_root(request: Request) -> str:
    """The Airflow UI's path prefix: this app's mount path without ``/connectsafely``."""
    root = str(request.scope.get("root_path") or "")
    return root[: -len(MOUNT)] if root.endswith(MOUNT) else root


def _static(name: str, media_type: str) -> Response:
    folder = resources.files("airflow_provider_connectsafely.plugins").joinpath("static")
    body = folder.joinpath(name).read_bytes()
    return Response(body, media_type=media_type, headers=_SECURITY_HEADERS)
