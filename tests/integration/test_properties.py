"""Bad input, property-based: whatever the caller (or a template) passes, the request model and
the operator either build a body the API accepts or refuse with an error that names the field
and the fix, before any request. Never anything else.

The examples are derandomized (the same on every run and in CI) and few, so this stays fast;
``HYPOTHESIS_PROFILE=deep`` runs many more, still without reaching the network.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from helpers.connections import API_KEY, connection_json
from helpers.dag_runs import load_dag, rendered_fields, task_results
from helpers.task_logs import by_task, captured_task_logs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_connectsafely.api.conversation_send import build_send_request
from airflow_provider_connectsafely.api.models import MessageLimits, MessageRequest
from airflow_provider_connectsafely.compat import AirflowFailException
from airflow_provider_connectsafely.emulator import EmulatorServer
from airflow_provider_connectsafely.emulator.api import UNKNOWN_RECIPIENT_PREFIX
from airflow_provider_connectsafely.emulator.validation import send_issues
from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
settings.register_profile("deep", parent=settings.get_profile("ci"), max_examples=3000)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FEW = 60 if PROFILE == "ci" else 600  # examples that each make a request

FIELDS = {
    "message",
    "recipient_profile_id",
    "recipient_profile_urn",
    "subject",
    "message_type",
    "account_id",
    "typing_indicator",
    "conversation_urn",
    "message_limits",
}
PROFILE_ID = re.compile(r"[^\s/?#:\x00-\x1f\x7f]+")

# --- strategies: anything a caller or a rendered template could pass ---------------------------

_SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "\t\n ",
        "\u00a0",
        "\u3000",
        "\u200b",
        "\u200b\u200d\ufeff",
        "None",
        "😀",
        "👩‍👩‍👧‍👦",
        "e\u0301",
        "\ud83d",
        "a\udc00b",
        "x\n",
        "%0A",
        "\x00",
        "\x1b[31m",
        "مرحبا",
    ]
)
_LONG = st.builds(
    lambda chunk, n: chunk * n,
    st.sampled_from(["a", "😀", " ", "é", "ab "]),
    st.sampled_from([1, 199, 200, 201, 950, 1899, 1900, 1901, 4000, 7999, 8000, 8001, 12000]),
)
_WRONG_TYPE = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.binary(max_size=4),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.just(object()),
)
TEXT = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=30),
    _SPECIAL,
    _LONG,
    _WRONG_TYPE,
)
_IDS = st.from_regex(r"[a-z0-9][a-z0-9\-]{1,30}", fullmatch=True)
_ODD_SEGMENT = st.one_of(
    _IDS,
    st.text(max_size=12),
    st.sampled_from(["%0A", "%2F", "%20", "%00", "%E2%9C%93", "%", "a%2525", "jöhn", "j%C3%B6hn", "a:b"]),
)
PROFILE_URL = st.builds(
    lambda scheme, host, section, segment, tail: f"{scheme}{host}/{section}/{segment}{tail}",
    st.sampled_from(["https://", "http://", "", "HTTPS://", "//", "ftp://"]),
    st.sampled_from(
        [
            "www.linkedin.com",
            "linkedin.com",
            "de.linkedin.com",
            "m.linkedin.com",
            "LinkedIn.com",
            "linkedin.com.evil.example",
            "evil.example",
            "[::1",
            "www.linkedin.com:443",
            "www.linkedin.com:99999",
            "user@www.linkedin.com",
            "www.linkedin.com\uff03",
        ]
    ),
    st.sampled_from(["in", "IN", "company", "pub", "in/extra"]),
    _ODD_SEGMENT,
    st.sampled_from(["", "/", "/?trk=x", "#frag", "/overlay/contact-info/", "?a=%0A", " "]),
)
URN = st.one_of(
    st.builds(
        lambda kind, ident: f"urn:li:{kind}:{ident}",
        st.sampled_from(["fsd_profile", "member", "msg_conversation", "", "fsd-profile", "x1"]),
        st.one_of(_IDS, st.text(max_size=10), st.just("(urn:li:fsd_profile:ACoAA1,2-abc)")),
    ),
    st.sampled_from(
        ["urn:li:fsd_profile:", "URN:LI:FSD_PROFILE:X", "urn:li:fsd_profile:a b", "urn:li:x:a\n"]
    ),
)
RECIPIENT_ID = st.one_of(TEXT, _IDS, PROFILE_URL, URN)
RECIPIENT_URN = st.one_of(TEXT, URN, _IDS)
MESSAGE_TYPE = st.one_of(TEXT, st.sampled_from(["normal", "inmail", "InMail", " NORMAL ", "email", "İnmail"]))
ACCOUNT = st.one_of(TEXT, st.sampled_from(["65f1c0ffee0123456789abcd", "has space", "a/b", "x:y"]))
TYPING = st.one_of(st.booleans(), st.none(), st.sampled_from(["yes", "True", 1, 0]))
LIMITS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "normal": st.one_of(st.integers(-5, 10_000), _WRONG_TYPE, st.none()),
            "inmail": st.integers(-5, 3000),
            "subject": st.integers(-5, 300),
        },
    ),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
    _WRONG_TYPE,
)


def request_kwargs(**overrides: Any) -> st.SearchStrategy[dict[str, Any]]:
    fields = {
        "message": st.one_of(TEXT, st.text(min_size=1, max_size=50)),
        "recipient_profile_id": RECIPIENT_ID,
        "recipient_profile_urn": RECIPIENT_URN,
        "subject": TEXT,
        "message_type": MESSAGE_TYPE,
        "account_id": ACCOUNT,
        "typing_indicator": TYPING,
        "conversation_urn": st.one_of(TEXT, URN),
        "limits": LIMITS,
    }
    fields.update(overrides)
    return st.fixed_dictionaries({}, optional=fields)


def utf16_units(text: str) -> int:
    """Length as JavaScript (and so the API's validation) counts it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_body(request: MessageRequest) -> dict[str, Any]:
    """What every built request must satisfy to be a body the API accepts."""
    body = request.to_body()
    wire = json.dumps(body, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    assert json.loads(wire) == body
    assert send_issues(body, with_conversation=request.typing_indicator) == []
    assert ("recipientProfileId" in body) != ("recipientProfileUrn" in body)
    if "recipientProfileId" in body:
        assert PROFILE_ID.fullmatch(body["recipientProfileId"]), body
    for name in ("recipientProfileUrn", "conversationUrn"):
        if name in body:
            assert re.fullmatch(r"urn:li:[A-Za-z_]+:[^\s\x00-\x1f\x7f]+", body[name]), body
    assert any(ch.isprintable() and not ch.isspace() for ch in body["message"]), "invisible message"
    limits = request.limits
    assert utf16_units(body["message"]) <= (
        limits.inmail if body["messageType"] == "inmail" else limits.normal
    )
    assert body["messageType"] in ("normal", "inmail")
    if "subject" in body:
        assert body["messageType"] == "inmail" and utf16_units(body["subject"]) <= limits.subject
    if "accountId" in body:
        assert PROFILE_ID.fullmatch(body["accountId"])
    return body


def check_refusal(error: ConnectSafelyValidationError) -> None:
    assert error.field in FIELDS | {"limits"}, error.field
    text = str(error)
    assert text.startswith(f"Invalid `{error.field}`: ") and ". Fix: " in text
    assert error.problem and error.fix


# --- the request model ---------------------------------------------------------------------


@settings(settings.get_profile(PROFILE))
@given(request_kwargs())
@example({"recipient_profile_id": "https://www.linkedin.com/in/john%0A/", "message": "hi"})
@example({"recipient_profile_id": "https://[::1/in/x", "message": "hi"})
@example({"recipient_profile_id": "a", "message": "hi", "limits": {"normal": "many"}})
@example({"recipient_profile_id": "a", "message": "\u200b"})
@example({"recipient_profile_id": "a", "message": "hi \ud83d"})
@example({"recipient_profile_id": "a", "message": "hi", "message_type": "inmail", "subject": "😀" * 150})
def test_build_makes_a_valid_body_or_names_the_field(kwargs: dict[str, Any]):
    kwargs.setdefault("message", "Hello!")
    try:
        request = MessageRequest.build(**kwargs)
    except ConnectSafelyValidationError as error:
        check_refusal(error)
        return
    check_body(request)
    # Building again from what was built changes nothing (normalisation is a fixed point).
    again = MessageRequest.build(
        message=request.message,
        recipient_profile_id=request.recipient_profile_id,
        recipient_profile_urn=request.recipient_profile_urn,
        subject=request.subject,
        message_type=request.message_type,
        account_id=request.account_id,
        typing_indicator=request.typing_indicator,
        conversation_urn=request.conversation_urn,
        limits=request.limits,
    )
    assert again == request and again.to_body() == request.to_body()


@settings(settings.get_profile(PROFILE))
@given(LIMITS)
def test_message_limits_are_positive_whole_numbers_or_refused(value: Any):
    try:
        limits = MessageLimits.coerce(value)
    except ConnectSafelyValidationError as error:
        assert error.field == "message_limits"
        check_refusal(error)
        return
    for number in (limits.normal, limits.inmail, limits.subject):
        assert type(number) is int and number > 0


@settings(settings.get_profile(PROFILE))
@given(st.text(st.sampled_from("a😀é \u200b"), min_size=1, max_size=12), st.integers(1, 12))
def test_length_limits_count_like_the_api(text: str, limit: int):
    """Limits count UTF-16 code units, as the API's JavaScript validation does: an emoji is 2."""
    try:
        MessageRequest.build(message=text, recipient_profile_id="a", limits={"normal": limit})
    except ConnectSafelyValidationError as error:
        assert error.field == "message"
        assert utf16_units(text) > limit or "empty" in error.problem
    else:
        assert utf16_units(text) <= limit


# --- the operator --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def props_emulator(emulator_server: EmulatorServer):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_CS_PROPS", connection_json(emulator_server.url))
        yield emulator_server
    emulator_server.reset()


OPERATOR_ARGS = request_kwargs(
    limits=st.nothing(),
    message_limits=LIMITS,
    account_id=st.one_of(TEXT, st.sampled_from(["has space", "a/b"]), st.just("EMULATOR_ACCOUNT")),
)


@settings(settings.get_profile(PROFILE), max_examples=FEW)
@given(OPERATOR_ARGS)
@example({"recipient_profile_id": "https://www.linkedin.com/in/jane-roe/?trk=x", "message": "Hi 😀"})
@example({"recipient_profile_urn": "urn:li:fsd_profile:ACoAAB1", "message": "   "})
def test_operator_sends_or_fails_without_retries(props_emulator: EmulatorServer, kwargs: dict[str, Any]):
    """Through ``execute``: the operator agrees with the model, and bad input fails the task
    with AirflowFailException (no Airflow retries) before any request."""
    emulator = props_emulator
    emulator.reset()
    kwargs.setdefault("message", "Hello!")
    if kwargs.get("account_id") == "EMULATOR_ACCOUNT":
        kwargs["account_id"] = emulator.state.accounts[1].id
    model_kwargs = {("limits" if k == "message_limits" else k): v for k, v in kwargs.items()}
    try:
        # The operator's model: the request model behind the chosen endpoint (messaging here).
        request: MessageRequest | None = build_send_request(**model_kwargs)
        refusal: ConnectSafelyValidationError | None = None
    except ConnectSafelyValidationError as exc:
        request, refusal = None, exc
    operator = SendLinkedInMessageOperator(
        task_id="props", connectsafely_conn_id="cs_props", use_ledger=False, **kwargs
    )
    try:
        answer = operator.execute({})
    except AirflowFailException as exc:
        failure: AirflowFailException | None = exc
    else:
        failure = None
    if refusal is not None:
        assert failure is not None, f"sent what the model refuses: {refusal}"
        assert str(failure) == f"ConnectSafelyValidationError: {refusal}"
        assert emulator.requests() == []
        return
    assert request is not None
    unknown_account = request.account_id not in (None, *(a.id for a in emulator.state.accounts))
    unknown_recipient = (request.recipient_profile_id or "").startswith(UNKNOWN_RECIPIENT_PREFIX)
    if unknown_account or unknown_recipient:  # the emulator answers 404
        assert failure is not None and "NotFoundError" in str(failure)
        return
    assert failure is None, f"refused what the model accepts: {failure}"
    assert isinstance(answer, dict) and answer["success"] is True
    [record] = emulator.requests()
    assert record["body"] == request.to_body()
    assert [m["recipientProfileUrn"] for m in emulator.messages()] == [answer["recipientProfileUrn"]]


# --- templates that render to bad values, through real Airflow rendering ---------------------------

# task id: (the field named in the error, words of the problem)
BAD_TEMPLATES = {
    "message_renders_empty": ("message", "empty"),
    "message_renders_whitespace": ("message", "empty"),
    "message_renders_too_long": ("message", "over the normal limit of 8000"),
    "recipient_renders_empty": ("recipient_profile_id", "no recipient given"),
    "recipient_renders_a_urn": ("recipient_profile_id", "is a URN"),
    "recipient_renders_a_company_url": ("recipient_profile_id", "not a LinkedIn profile URL"),
    "recipient_renders_with_spaces": ("recipient_profile_id", "not a profile ID"),
    "both_recipients_render": ("recipient_profile_id", "both"),
    "urn_renders_invalid": ("recipient_profile_urn", "not a LinkedIn URN"),
    "message_type_renders_unknown": ("message_type", "not a message type"),
    "subject_renders_too_long": ("subject", "over the limit of 200"),
    "subject_without_inmail": ("subject", "only sent with InMail"),
    "account_renders_invalid": ("account_id", "not an account ID"),
}


@pytest.fixture(scope="module")
def bad_templates_run(emulator_server: EmulatorServer, airflow_db):
    emulator_server.reset()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator_server.url))
        with captured_task_logs() as lines:
            run = load_dag("connectsafely_test_bad_templates").test()
    tis = {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
    result = {
        "tis": tis,
        "results": task_results(run),
        "rendered": rendered_fields(run),
        "logs": by_task(lines),
        "requests": emulator_server.requests(),
    }
    emulator_server.reset()
    return result


def test_bad_templates_dag_covers_the_table(bad_templates_run):
    extra = {"conn_id_renders_unknown", "message_undefined_variable", "mapped_undefined_variable"}
    assert set(bad_templates_run["tis"]) == set(BAD_TEMPLATES) | extra


@pytest.mark.parametrize("task_id", sorted(BAD_TEMPLATES))
def test_templates_rendering_bad_values_fail_clearly(bad_templates_run, task_id: str):
    field, words = BAD_TEMPLATES[task_id]
    # Failed at once: no Airflow retry (the task has retries=2), nothing sent.
    assert bad_templates_run["tis"][task_id] == ("failed", 1)
    log = bad_templates_run["logs"][task_id]
    expected = f"AirflowFailException: ConnectSafelyValidationError: Invalid `{field}`: "
    assert expected in log, log[-2000:]
    line = log[log.index(expected) :].splitlines()[0]
    assert words in line and ". Fix: " in line
    assert bad_templates_run["requests"] == []
    assert API_KEY not in log


def test_conn_id_rendering_to_an_unknown_connection_fails_clearly(bad_templates_run):
    assert bad_templates_run["tis"]["conn_id_renders_unknown"] == ("failed", 1)
    log = bad_templates_run["logs"]["conn_id_renders_unknown"]
    assert "AirflowFailException: ConnectSafelyConfigError: Connection 'cs_' is not defined" in log
    assert "Fix:" in log


def test_undefined_template_variable_fails_naming_it(bad_templates_run):
    """Airflow renders with StrictUndefined: the task fails in rendering, before ``execute``,
    naming the variable, and without retries (a retry would render the same)."""
    assert bad_templates_run["tis"]["message_undefined_variable"] == ("failed", 1)
    log = bad_templates_run["logs"]["message_undefined_variable"]
    assert "AirflowFailException: Template rendering failed" in log
    assert "UndefinedError" in log and "'nope'" in log
    assert bad_templates_run["requests"] == []


def test_undefined_variable_in_a_mapped_task_fails_without_retries(bad_templates_run):
    assert bad_templates_run["tis"]["mapped_undefined_variable"] == ("failed", 1)
    log = bad_templates_run["logs"]["mapped_undefined_variable"]
    assert "AirflowFailException: Template rendering failed" in log


def test_rendered_fields_show_the_bad_values(bad_templates_run):
    """The Airflow UI's Rendered tab shows what the template produced, so the user can see why."""
    rendered = bad_templates_run["rendered"]
    assert rendered[("recipient_renders_a_urn", -1)]["recipient_profile_id"] == "urn:li:fsd_profile:ACoAAX"
    assert rendered[("message_renders_empty", -1)]["message"] == ""
    assert API_KEY not in repr(rendered)


@pytest.mark.parametrize(
    ("template", "params", "words"),
    [
        ("{{ params.n }}", {"n": 42}, "expected text, got int"),
        ("{{ params.names }}", {"names": ["a", "b"]}, "expected text, got list"),
        ("{{ params.nothing }}", {"nothing": None}, "expected text, got NoneType"),
    ],
)
def test_native_rendering_to_a_non_string_message_fails_clearly(props_emulator, template, params, words):
    """With ``render_template_as_native_obj=True`` a template can render to any type."""
    import pendulum
    from airflow.sdk import DAG

    with DAG("native_bad", schedule=None, render_template_as_native_obj=True, params=params) as dag:
        op = SendLinkedInMessageOperator(
            task_id="native", recipient_profile_id="a", message=template, connectsafely_conn_id="cs_props"
        )
    context: Any = {"params": dag.params.dump(), "ds": pendulum.now().to_date_string()}
    op.render_template_fields(context, jinja_env=dag.get_template_env())
    assert op.message == (params[next(iter(params))])
    with pytest.raises(AirflowFailException, match=f"Invalid `message`: {words}"):
        op.execute(context)
    assert props_emulator.requests() == []
