"""Secrets and transport: the API key goes into the Authorization header and nowhere else.

- A canary key runs through every example DAG with ``dag.test()``, against an emulator that
  echoes the key back in its error answers (a hostile or buggy server): it must appear in no
  task log line, XCom, rendered template field, exception message, file under AIRFLOW_HOME
  (metadata database, ledgers, log files), and no part of a request the emulator saw other
  than the Authorization header it checks.
- Plain ``http://`` to a host that is not loopback is refused before anything is resolved.
- TLS verification is on by default; ``verify: false`` works only as an explicit connection
  extra, and logs a warning.
- A redirect is not followed, so the key never reaches another host or port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from helpers.connections import connection_json
from helpers.dag_runs import load_dag, rendered_fields, run_any_time
from helpers.paths import EXAMPLE_DAGS
from helpers.task_logs import captured_task_logs, files_containing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_connectsafely import errors
from airflow_provider_connectsafely.api import client as client_module
from airflow_provider_connectsafely.api.client import ConnectSafelyClient, is_loopback, normalize_base_url
from airflow_provider_connectsafely.api.models import MessageRequest
from airflow_provider_connectsafely.compat import AirflowFailException
from airflow_provider_connectsafely.emulator import EmulatorServer
from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

CANARY = "cs-canary-7Q2x9Lk4Vd"  # the key under test: distinctive, unlikely anywhere else
TLS_HOST = "api.connectsafely.test"  # resolves to 127.0.0.1 in these tests only
SEND = "/linkedin/messaging/send"
EXAMPLES = sorted(p.stem for p in EXAMPLE_DAGS.glob("*.py") if "dag_id=" in p.read_text())
CORE_EXAMPLES = ("connectsafely_inmail", "connectsafely_mapped_sends", "connectsafely_scheduled_send")


@pytest.fixture(scope="module")
def canary_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=CANARY) as server:
        yield server


@pytest.fixture
def canary(canary_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """``connectsafely_default`` with the canary key, pointing at an emulator that expects it."""
    canary_emulator.reset()
    monkeypatch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(canary_emulator.url, key=CANARY))
    return canary_emulator


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name resolution without a network: TLS_HOST is 127.0.0.1, loopback names resolve,
    everything else fails. Returns the names looked up (to prove nothing was)."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        looked_up.append(name)
        if name == TLS_HOST:
            return real("127.0.0.1", port, *args, **kwargs)
        if name in ("localhost", "127.0.0.1", "::1"):
            return real(name, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(client_module, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps


# --- the canary through every example DAG ----------------------------------------------------

# (example, fault queued for its first send): the server echoes the key in its answer.
CANARY_RUNS = [(name, "429_echo") for name in EXAMPLES] + [("connectsafely_scheduled_send", "400_echo")]
ECHOES = {
    "429_echo": {"fault": "error", "status": 429, "shape": "error", "message": f"key {CANARY} over quota"},
    "400_echo": {"fault": "error", "status": 400, "shape": "code", "message": f"key {CANARY} not allowed"},
}


def xcoms(run: Any) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id).all()
        return [(row.task_id, row.key, row.value) for row in rows]


def test_examples_are_all_covered():
    assert set(CORE_EXAMPLES) <= set(EXAMPLES)
    assert {name for name, _ in CANARY_RUNS} == set(EXAMPLES)


@pytest.mark.parametrize(("example_dag", "echo"), CANARY_RUNS)
def test_canary_key_appears_only_in_the_authorization_header(
    example_dag: str, echo: str, canary: EmulatorServer, airflow_db: Path, monkeypatch, capfd, caplog
):
    spec = dict(ECHOES[echo])
    canary.inject(spec.pop("fault"), **spec)
    no_sleep(monkeypatch)
    with captured_task_logs() as lines:
        run = run_any_time(load_dag(example_dag))
    out, err = capfd.readouterr()
    records = canary.requests()

    if example_dag in CORE_EXAMPLES:  # these send: the test is not vacuous
        assert records, "the example sent nothing"
        assert any(r["status"] == 429 if echo == "429_echo" else r["status"] == 400 for r in records)
        assert any("ConnectSafely API answered" in line for line in lines), "no task log captured"
    # The emulator checked the canary in the Authorization header of every request...
    assert all(r["authorized"] for r in records)
    # ...and saw it nowhere else: not in a path, query, body or any other header.
    assert CANARY not in json.dumps(records), "the key is in a request field other than Authorization"
    assert CANARY not in json.dumps(canary.messages())
    # Task logs (as dag.test() writes them), console, logging records.
    assert not [line for line in lines if CANARY in line], "the key is in a task log line"
    assert CANARY not in out and CANARY not in err
    assert CANARY not in caplog.text
    # XComs, rendered template fields, and every file under AIRFLOW_HOME (metadata DB, ledger...).
    assert CANARY not in repr(xcoms(run))
    assert CANARY not in repr(rendered_fields(run))
    assert files_containing(airflow_db, CANARY) == []
    if echo == "400_echo":  # the failure's text is in the log, redacted
        assert any("key *** not allowed" in line for line in lines)


def test_files_check_can_fail(airflow_db: Path):
    """The AIRFLOW_HOME scan finds what is there (so an empty result means something)."""
    probe = airflow_db / "logs" / "probe.log"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(f"line with {CANARY}\n")
    try:
        assert files_containing(airflow_db, CANARY) == [probe]
    finally:
        probe.unlink()


# --- exception messages, repr and hook errors --------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("error", {"status": 400, "shape": "zod", "message": f"bad {CANARY}"}),
        ("error", {"status": 401, "shape": "error", "message": f"bad {CANARY}"}),
        ("error", {"status": 500, "shape": "code", "message": f"bad {CANARY}"}),
        ("error", {"status": 429, "shape": "error_details", "message": f"bad {CANARY}"}),
        ("redirect", {"location": f"https://elsewhere.invalid/?api_key={CANARY}"}),
    ],
)
def test_an_echoed_key_is_redacted_from_errors(canary: EmulatorServer, monkeypatch, fault, params):
    canary.inject(fault, count=4, **params)
    hook = ConnectSafelyHook()
    hook.client._sleep = lambda _s: None
    with pytest.raises(errors.ConnectSafelyError) as info:
        hook.send_message(message="hi", recipient_profile_id="x")
    assert "***" in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert CANARY not in repr(hook.client) and CANARY not in repr(hook.settings)
    assert CANARY not in repr(hook.client.session.auth)


def test_operator_error_text_never_shows_the_key(canary: EmulatorServer, monkeypatch):
    canary.inject("error", status=403, shape="code", message=f"{CANARY} is not subscribed")
    op = SendLinkedInMessageOperator(task_id="t", message="hi", recipient_profile_id="x", use_ledger=False)
    with pytest.raises(AirflowFailException) as info:
        op.execute({})
    assert "PermissionDeniedError" in str(info.value) and "*** is not subscribed" in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in str(info.value.__cause__)


# --- plain http only to loopback ----------------------------------------------------------------

REFUSED = [
    "http://api.connectsafely.ai",
    "HTTP://API.CONNECTSAFELY.AI/",
    f"http://{TLS_HOST}:8099",  # resolves to 127.0.0.1 here, but by name it is not loopback
    "http://10.0.0.1:8099",
    "http://0.0.0.0:8099",
    "http://127.0.0.1.nip.io",
    "http://localhost.evil.example",
    "http://[::2]",
    "http://127.1",
]
WITH_CREDENTIALS = [
    f"http://user:{CANARY}@127.0.0.1:8099",
    f"https://:{CANARY}@api.connectsafely.ai",
    f"http://evil.example\\@127.0.0.1:{CANARY}",
    f"https://{CANARY}@[::1",
]


@pytest.mark.parametrize("url", REFUSED)
def test_plain_http_to_a_non_loopback_host_is_refused(url: str, monkeypatch, resolver: list[str]):
    monkeypatch.setenv("AIRFLOW_CONN_CS_PLAIN", connection_json(url, key=CANARY))
    with pytest.raises(errors.ConnectSafelyConfigError, match="plain http") as info:
        ConnectSafelyHook("cs_plain").send_message(message="hi", recipient_profile_id="x")
    assert "Fix: use https://" in str(info.value)
    op = SendLinkedInMessageOperator(
        task_id="t",
        message="hi",
        recipient_profile_id="x",
        connectsafely_conn_id="cs_plain",
        use_ledger=False,
    )
    with pytest.raises(AirflowFailException, match="ConnectSafelyConfigError"):  # no Airflow retries
        op.execute({})
    assert resolver == [], "a name was resolved: something tried to connect"


@pytest.mark.parametrize("url", WITH_CREDENTIALS)
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str, resolver: list[str]):
    with pytest.raises(errors.ConnectSafelyConfigError) as info:
        ConnectSafelyClient("real-key", url)
    assert CANARY not in str(info.value)
    assert resolver == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8099", "http://localhost:8099", "http://[::1]:8099", "http://127.8.9.10"]
)
def test_plain_http_to_loopback_is_allowed(url: str):
    assert normalize_base_url(url) == url.lower()


_URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "",
        "//",
        "ftp://",
        "127.0.0.1",
        "localhost",
        "[::1]",
        "api.connectsafely.ai",
        "evil.example",
        "@",
        ":",
        ":8099",
        ":99999",
        "/",
        "\\",
        "#",
        "?",
        "%2F",
        "%40",
        "[",
        "]",
        " ",
        "\t",
        "\n",
        "\x00",
        "user:pw@",
        ".",
        "\uff11\uff12\uff17.0.0.1",  # fullwidth digits
        "ⓛocalhost",
        "\u200b",
    ]
)


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(_URL_PIECES, max_size=7).map("".join))
@example("http://evil.example\\@127.0.0.1")
@example("http://127.0.0.1#@evil.example")
@example("http://127.0.0.1:99999")
@example("https://api.connectsafely.ai:abc")
@example("http://localhost\n.evil.example")
def test_base_url_is_refused_or_safe_as_requests_sees_it(text: str):
    """Whatever the host field holds, the client either refuses it with a config error (at
    once, or when ``requests`` cannot use it, before connecting), or gets a URL whose host as
    urllib3 parses it (the host it will connect to) is loopback whenever the scheme is http."""
    from urllib3.util import parse_url

    try:
        url = normalize_base_url(text)
    except errors.ConnectSafelyConfigError as error:
        assert "Fix:" in str(error)
        return
    try:
        prepared = requests.Request("POST", url + SEND).prepare()
    except requests.exceptions.InvalidURL:
        # e.g. a host that is not valid IDNA: the client reports it as a config error, and
        # never connects (the name is not even resolved).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket, "getaddrinfo", _no_resolving)
            with pytest.raises(errors.ConnectSafelyConfigError, match="cannot be used"):
                ConnectSafelyClient("k", url).list_accounts()
        return
    parsed = parse_url(prepared.url)
    assert parsed.scheme in ("http", "https")
    assert parsed.auth is None
    assert parsed.host and parsed.host.strip("[]").lower() == (urlsplit(url).hostname or "").lower()
    if parsed.scheme == "http":
        assert is_loopback(parsed.host)
        host = parsed.host.strip("[]")
        assert host == "localhost" or ipaddress.ip_address(host).is_loopback


def _no_resolving(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"name resolution attempted: {args[:1]}")


# --- TLS verification ----------------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for TLS_HOST and 127.0.0.1; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOST)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(TLS_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorServer, Path]]:
    """An HTTPS emulator with a self-signed certificate (no CA trusts it); yields it and the
    certificate's path."""
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with EmulatorServer(api_key=CANARY, ssl_context=context) as server:
        yield server, cert


@pytest.fixture
def tls(tls_emulator, monkeypatch, resolver) -> tuple[EmulatorServer, Path, str]:
    server, cert = tls_emulator
    server.reset()
    return server, cert, f"https://{TLS_HOST}:{server.port}"


def tls_hook(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> ConnectSafelyHook:
    monkeypatch.setenv("AIRFLOW_CONN_CS_TLS", connection_json(url, key=CANARY, **extra))
    hook = ConnectSafelyHook("cs_tls")
    return hook


@pytest.mark.parametrize(
    "environment",
    [{}, {"CURL_CA_BUNDLE": ""}, {"REQUESTS_CA_BUNDLE": ""}],
    ids=["default", "CURL_CA_BUNDLE-empty", "REQUESTS_CA_BUNDLE-empty"],
)
def test_an_untrusted_certificate_is_refused(tls, monkeypatch, environment):
    server, _cert, url = tls
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    hook = tls_hook(monkeypatch, url)
    hook.client._sleep = lambda _s: None
    with captured_task_logs() as lines, pytest.raises(errors.ConnectSafelyConfigError, match="TLS handshake"):
        hook.send_message(message="hi", recipient_profile_id="x")
    assert server.requests() == [], "the request (and the key) went to an unverified server"
    assert not [line for line in lines if "verification is OFF" in line]


@pytest.mark.parametrize("value", [False, "false", "False", "0", "no"])
def test_verify_false_works_only_as_an_explicit_extra_and_warns(tls, monkeypatch, value):
    server, _cert, url = tls
    hook = tls_hook(monkeypatch, url, verify=value)
    with captured_task_logs() as lines, pytest.warns(Warning, match="Unverified HTTPS request"):
        answer = hook.send_message(message="hi", recipient_profile_id="x")
    assert answer["success"] is True
    [record] = server.requests()
    assert record["authorized"] is True
    warnings = [line for line in lines if "TLS certificate verification is OFF" in line]
    assert len(warnings) == 1, lines
    assert "cs_tls" in warnings[0] and "warning" in warnings[0].lower()
    assert CANARY not in "\n".join(lines)


def test_a_ca_bundle_verifies_without_a_warning(tls, monkeypatch):
    server, cert, url = tls
    hook = tls_hook(monkeypatch, url, verify=str(cert))
    with captured_task_logs() as lines:
        assert hook.send_message(message="hi", recipient_profile_id="x")["success"] is True
    assert len(server.requests()) == 1
    assert not [line for line in lines if "verification is OFF" in line]


@pytest.mark.parametrize("value", [0, 1, {"a": 1}, ["x"]])
def test_an_unclear_verify_extra_is_refused(monkeypatch, value):
    hook = tls_hook(monkeypatch, "https://api.connectsafely.ai", verify=value)
    with pytest.raises(errors.ConnectSafelyConfigError, match="verify"):
        _ = hook.settings


# --- redirects are not followed -----------------------------------------------------------------


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[EmulatorServer]:
    """A second emulator, on another port, that would accept the same key."""
    with EmulatorServer(api_key=CANARY) as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_key_stays_home(canary, elsewhere, status):
    elsewhere.reset()
    canary.inject("redirect", status=status, location=elsewhere.url + SEND)
    hook = ConnectSafelyHook()
    with pytest.raises(errors.UnexpectedRedirectError) as info:
        hook.send_message(message="hi", recipient_profile_id="x")
    assert f"answered {status}: redirect to {elsewhere.url}{SEND}" in str(info.value)
    assert info.value.delivered is False and not info.value.retryable
    assert elsewhere.requests() == [], "the redirect target received a request"
    assert [r["status"] for r in canary.requests()] == [status]
    assert canary.messages() == [] and elsewhere.messages() == []


def test_a_redirect_of_the_read_only_call_is_not_followed(canary, elsewhere):
    elsewhere.reset()
    canary.inject("redirect", status=302, location=elsewhere.url + "/linkedin/accounts")
    ok, text = ConnectSafelyHook().test_connection()
    assert not ok and "302" in text and "not followed" in text
    assert elsewhere.requests() == []


def test_even_a_followed_redirect_would_not_carry_the_key(canary, elsewhere):
    """Defence in depth: the session's auth is dropped by requests on a cross-origin redirect,
    so a future change that followed redirects would still not leak the key."""
    elsewhere.reset()
    canary.inject("redirect", status=307, location=elsewhere.url + SEND)
    session = ConnectSafelyHook().client.session
    answer = session.post(canary.url + SEND, json={"recipientProfileId": "x", "message": "hi"}, timeout=5)
    assert answer.status_code == 401  # the target refused: no key arrived
    [record] = elsewhere.requests()
    assert record["authorized"] is False
    assert CANARY not in json.dumps(record)


def test_a_tls_error_after_the_request_went_out_is_never_retried(tmp_path_factory, resolver):
    """urllib3 reports a TLS error while reading the answer as SSLError, like a failed
    handshake; the request was handled, so it must end unknown, not be sent again."""
    import os
    import threading

    cert, key = make_certificate(tmp_path_factory.mktemp("tls-after"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handled: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            with context.wrap_socket(raw, server_side=True) as conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                handled.append(data)  # the API handled it: the message went out
                # Answer with bytes that are not a TLS record.
                with socket.socket(fileno=os.dup(conn.fileno())) as plain:
                    plain.sendall(b"not a TLS record\r\n")

    threading.Thread(target=serve, daemon=True).start()
    client = ConnectSafelyClient(
        CANARY, f"https://{TLS_HOST}:{listener.getsockname()[1]}", verify=str(cert), sleep=lambda _s: None
    )
    try:
        # requests reports it as SSLError or as a dropped connection, depending on timing.
        with pytest.raises(errors.DeliveryUnknownError, match="may or may not have been delivered"):
            client.send(MessageRequest.build(message="hi", recipient_profile_id="x"))
    finally:
        listener.close()
    assert len(handled) == 1
