"""The do-not-contact guarantee, property-based: worker threads send to overlapping people
(each with its own database connections, in parallel on PostgreSQL) while another thread adds
suppressions at random moments. Whatever the interleaving, no send whose claim started after
a suppression of its person committed reaches the API, and every send ends sent, skipped or
in flight (another worker has it): nothing is dropped silently.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_connectsafely.ledger.records import NewSend
from airflow_provider_connectsafely.ledger.store import SendLedger
from airflow_provider_connectsafely.outreach.delivery import GuardedSender
from airflow_provider_connectsafely.outreach.outcomes import IN_FLIGHT, SENT, SKIPPED

PEOPLE = 5
CAMPAIGNS = ("a", "b")
WORKERS = 3

SENDS = st.lists(st.tuples(st.integers(0, PEOPLE - 1), st.sampled_from(CAMPAIGNS)), min_size=4, max_size=10)
SUPPRESSIONS = st.lists(
    st.tuples(st.integers(0, PEOPLE - 1), st.sampled_from(("", *CAMPAIGNS)), st.floats(0, 0.02)),
    min_size=1,
    max_size=4,
)


@dataclass(frozen=True)
class Request:
    recipient: str


@pytest.fixture(scope="module")
def shared_ledger(request, tmp_path_factory):
    if request.param == "sqlite":
        store = SendLedger.sqlite(tmp_path_factory.mktemp("dnc") / "ledger.sqlite")
    else:
        store = SendLedger.from_url(request.getfixturevalue("postgres_url_module"), pool_size=8)
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(scope="module")
def postgres_url_module(postgres_server):
    """One PostgreSQL database for every example (each uses its own people and campaigns)."""
    import psycopg

    server = postgres_server
    name = f"dnc_{uuid.uuid4().hex[:8]}"
    admin = f"host={server['host']} port={server['port']} user={server['user']} password={server['password']}"
    with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg://{server['user']}:{server['password']}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(f"{admin} dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize(
    "shared_ledger", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(SENDS, min_size=WORKERS, max_size=WORKERS),
    suppressions=SUPPRESSIONS,
    seed=st.integers(0, 99),
)
def test_no_send_starts_after_its_persons_suppression_committed(shared_ledger, plans, suppressions, seed):
    tag = uuid.uuid4().hex[:10]
    person = [f"p{n}-{tag}" for n in range(PEOPLE)]
    calls: list[tuple[str, str, float]] = []  # (person, campaign, when its claim started)
    outcomes: list[tuple[str, str, str, bool]] = []
    committed: list[tuple[str, str, float]] = []  # (person, scope, when the suppression returned)
    lock = threading.Lock()
    local = threading.local()
    start = threading.Barrier(WORKERS + 1)

    def api(request: Request) -> dict:
        with lock:
            calls.append((request.recipient, local.campaign, local.started))
        return {"success": True}

    def worker(name: str, plan: list[tuple[int, str]], rng: random.Random) -> None:
        sender = GuardedSender(api, shared_ledger, daily_limit=None)
        start.wait()
        for who, campaign in plan:
            time.sleep(rng.uniform(0, 0.004))
            local.campaign = f"{campaign}-{tag}"
            local.started = time.monotonic()
            key = f"campaign:{local.campaign}:{person[who]}"
            outcome = sender.send(Request(person[who]), NewSend(key, "default", person[who], task_id=name))
            with lock:
                outcomes.append((person[who], local.campaign, outcome.status, outcome.suppressed))

    def suppressor() -> None:
        start.wait()
        for who, scope, delay in suppressions:
            time.sleep(delay)
            shared_ledger.suppress(person[who], scope=f"{scope}-{tag}" if scope else None)
            with lock:
                committed.append((person[who], f"{scope}-{tag}" if scope else "", time.monotonic()))

    rng = random.Random(seed)
    threads = [
        threading.Thread(target=worker, args=(f"w{n}", plan, random.Random(rng.random())))
        for n, plan in enumerate(plans)
    ]
    threads.append(threading.Thread(target=suppressor))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    def holds(scope: str, campaign: str) -> bool:
        return scope in ("", campaign)

    # No API call for a send whose claim began after a matching suppression committed.
    for who, campaign, started in calls:
        late = [at for p, scope, at in committed if p == who and holds(scope, campaign) and at < started]
        assert not late, f"{who} in {campaign} sent after a suppression committed"
    # Every send ended sent or skipped; a suppressed skip has a suppression behind it.
    assert len(outcomes) == sum(len(plan) for plan in plans)
    for who, campaign, status, suppressed in outcomes:
        assert status in (SENT, SKIPPED, IN_FLIGHT)  # in flight: another worker holds the key
        if suppressed:
            assert any(p == who and holds(scope, campaign) for p, scope, _ in committed) or any(
                person[w] == who and holds(f"{s}-{tag}" if s else "", campaign) for w, s, _ in suppressions
            )
    # One API call per person and campaign at most (the ledger's dedupe still holds).
    assert len({(p, c) for p, c, _ in calls}) == len(calls)
