"""``connectsafely-ledger``: list, stats, settle and export on a seeded ledger.

The ledger's clock and the command's clock are fixed, so nothing depends on today's date.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers.paths import REPO

from airflow_provider_connectsafely.cli import ledger as cli
from airflow_provider_connectsafely.ledger import FAILED, PENDING, SENT, UNKNOWN, NewSend
from airflow_provider_connectsafely.ledger.sequences import SequenceStore
from airflow_provider_connectsafely.ledger.store import SendLedger

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=timezone.utc)
UNKNOWN_KEY = "campaign:spring:urn:li:fsd_profile:ACoAAB"


def fixed() -> datetime:
    return NOW


def record(
    ledger: SendLedger, key: str, state: str, account: str = "acct-a", ago: timedelta = timedelta()
) -> None:
    ledger.clock = lambda: NOW - ago
    recipient = key.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    claim = ledger.claim(NewSend(key, account, recipient, "crm", "send", "manual__1", -1))
    token = claim.token
    assert token is not None
    if state == SENT:
        ledger.mark_sent(key, token, {"recipientProfileUrn": "urn:li:fsd_profile:X", "conversationUrn": "c1"})
    elif state == FAILED:
        ledger.mark_failed(key, token, "ValidationError:\nbad input", retryable=True)
    elif state == UNKNOWN:
        ledger.mark_unknown(key, token, "read timeout")
    ledger.clock = fixed


def seed(ledger: SendLedger) -> SendLedger:
    """Rows in every state, in batches, a sequence and a single send."""
    record(ledger, "campaign:spring:john", SENT, ago=timedelta(hours=1))
    record(ledger, UNKNOWN_KEY, UNKNOWN, ago=timedelta(hours=2))
    record(ledger, "campaign:spring:jane", FAILED, account="acct-b", ago=timedelta(days=1))
    record(ledger, "sequence:onboard:1:bob", SENT, ago=timedelta(days=2))
    record(ledger, "sequence:onboard:2:bob", PENDING, ago=timedelta(hours=3))
    record(ledger, "crm/send/manual__1/ann", PENDING, account="default", ago=timedelta(minutes=5))
    store = SequenceStore(ledger)
    store.enroll("onboard", [("bob", "acct-a", {}), ("carl", "acct-a", {})])
    store.mark_replied(store.enrollments("onboard")[0], NOW, "thanks")
    return ledger


@pytest.fixture
def ledger_file(tmp_path) -> Path:
    path = tmp_path / "ledger.sqlite"
    store = seed(SendLedger.sqlite(path, clock=fixed))
    store.close()
    return path


@pytest.fixture
def url(ledger_file) -> str:
    return f"sqlite:///{ledger_file}"


AIRFLOW_LOG = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[\w+\s*\] .*\[airflow[.\w]*\]")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # only what the command prints
    code = cli.main(list(argv), clock=fixed)
    out, err = capsys.readouterr()
    # The command reads Airflow's configuration in this process, which logs once in unit-test
    # mode: leave out Airflow's own log lines.
    out, err = ("".join(x for x in text.splitlines(True) if not AIRFLOW_LOG.match(x)) for text in (out, err))
    return code, out, err


def entry(ledger_file: Path, key: str):
    store = SendLedger.sqlite(ledger_file)
    try:
        return store.get(key)
    finally:
        store.close()


# -- list ------------------------------------------------------------------------------------


def test_list_shows_a_table_newest_first(capsys, url):
    code, out, err = run(capsys, "list", "--url", url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["key", "state", "account", "recipient", "updated_at", "dag/task/run", "error"]
    assert [line.split()[0] for line in lines[1:3]] == ["crm/send/manual__1/ann", "campaign:spring:john"]
    assert "2025-03-10 14:00:00" in lines[2] and "crm/send/manual__1" in lines[2]
    assert "ValidationError: bad input" in out  # one line per row
    assert len(lines) == 7
    assert max(len(line) for line in lines) <= 200


def test_list_wide_shows_whole_keys(capsys, url):
    _, cut, _ = run(capsys, "list", "--url", url, "--state", "unknown")
    assert UNKNOWN_KEY not in cut and "campaign:spring:urn:li:fsd_profile:AC..." in cut
    _, wide, _ = run(capsys, "list", "--url", url, "--state", "unknown", "--wide")
    assert wide.splitlines()[1].split()[0] == UNKNOWN_KEY


def test_list_filters(capsys, url):
    def keys(*argv: str) -> list[str]:
        code, out, _ = run(capsys, "list", "--url", url, "--format", "json", *argv)
        assert code == 0
        return [row["key"] for row in json.loads(out)]

    assert keys("--state", "unknown,pending") == [
        "crm/send/manual__1/ann",
        UNKNOWN_KEY,
        "sequence:onboard:2:bob",
    ]
    assert set(keys("--campaign", "spring")) == {"campaign:spring:john", UNKNOWN_KEY, "campaign:spring:jane"}
    assert keys("--campaign", "onboard", "--state", "sent") == ["sequence:onboard:1:bob"]
    assert keys("--account", "acct-b") == ["campaign:spring:jane"]
    assert keys("--since", "2025-03-10T12:30:00Z") == [
        "crm/send/manual__1/ann",
        "campaign:spring:john",
        UNKNOWN_KEY,
    ]
    assert keys("--since", "2025-03-10T13:30:00+01:00") == keys("--since", "2025-03-10 12:30")
    assert len(keys("--since", "2025-03-09")) == 5


def test_list_limit_says_what_it_left_out(capsys, url):
    code, out, err = run(capsys, "list", "--url", url, "--limit", "2")
    assert code == 0
    assert len(out.splitlines()) == 3
    assert "showing the newest 2 of 6" in err


def test_list_json_has_the_whole_row(capsys, url):
    code, out, _ = run(
        capsys, "--url", url, "list", "--format", "json", "--campaign", "spring", "--state", "sent"
    )
    [row] = json.loads(out)
    assert code == 0
    assert row["key"] == "campaign:spring:john"
    assert row["campaign"] == "spring"
    assert row["updated_at"] == "2025-03-10T14:00:00+00:00"
    assert (row["recipient_urn"], row["conversation_urn"], row["run_id"]) == (
        "urn:li:fsd_profile:X",
        "c1",
        "manual__1",
    )
    assert "response" not in row and "claim_token" not in row


def test_nothing_matched_is_not_an_error(capsys, url):
    assert run(capsys, "list", "--url", url, "--campaign", "nope") == (0, "(no sends match)\n", "")
    assert run(capsys, "list", "--url", url, "--campaign", "nope", "--format", "json") == (0, "[]\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--state", "delivered"], "no state 'delivered'"),
        (["list", "--since", "last tuesday"], "--since 'last tuesday' is not an ISO date"),
        (["export", "--since", "2025-13-01"], "is not an ISO date"),
        (["list", "--limit", "-1"], "is negative"),
        (["settle", "k", "sent"], "--note"),
        (["frobnicate"], "invalid choice"),
        (["list", "--ledger-conn-id", "x"], "not allowed with argument"),
    ],
)
def test_bad_arguments_are_one_line_and_status_2(capsys, url, argv, message):
    code, out, err = run(capsys, *argv, "--url", url)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1 and err.startswith("connectsafely-ledger")


# -- the ledger's location -------------------------------------------------------------------


def test_one_location_only(capsys, url):
    code, _, err = run(capsys, "--ledger-conn-id", "x", "list", "--url", url)
    assert code == 2 and err == "connectsafely-ledger: give --url or --ledger-conn-id, not both\n"


def test_the_default_ledger_is_the_tasks_sqlite_file(capsys, isolated_default_ledger):
    seed(SendLedger.sqlite(isolated_default_ledger, clock=fixed)).close()
    code, out, _ = run(capsys, "list", "--state", "unknown", "--format", "json")
    assert code == 0 and [row["key"] for row in json.loads(out)] == [UNKNOWN_KEY]


def test_a_missing_ledger_is_never_created(capsys, isolated_default_ledger, tmp_path):
    code, out, err = run(capsys, "list")
    assert (code, out) == (2, "")
    assert err == (
        f"connectsafely-ledger: no send ledger at {isolated_default_ledger} yet (the default SQLite "
        "file): the first send creates it; pass --url or --ledger-conn-id for another ledger\n"
    )
    assert not isolated_default_ledger.exists()
    missing = tmp_path / "elsewhere.sqlite"
    assert run(capsys, "stats", "--url", f"sqlite:///{missing}") == (
        2,
        "",
        f"connectsafely-ledger: no send ledger at {missing} yet (given URL): the first send creates it\n",
    )
    assert not missing.exists()


def test_a_database_without_a_ledger_is_left_alone(capsys, tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    code, _, err = run(capsys, "settle", "k", "sent", "--note", "x", "--url", f"sqlite:///{empty}")
    assert code == 2 and "no connectsafely_sends table" in err
    assert empty.stat().st_size == 0


def test_a_ledger_of_another_schema_version_is_not_migrated(capsys, ledger_file, url):
    import sqlite3

    with sqlite3.connect(ledger_file) as db:
        db.execute("UPDATE connectsafely_ledger_version SET version_num = '0099'")
    code, _, err = run(capsys, "list", "--url", url)
    assert code == 2 and "schema version 0099" in err
    with sqlite3.connect(ledger_file) as db:
        assert db.execute("SELECT version_num FROM connectsafely_ledger_version").fetchall() == [("0099",)]


def test_ledger_from_an_airflow_connection(capsys, ledger_file, monkeypatch):
    with capsys.disabled():  # Airflow sets up logging on import: not on this test's captured streams
        import airflow.sdk  # noqa: F401
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLI_LEDGER", json.dumps({"conn_type": "sqlite", "host": str(ledger_file)})
    )
    code, out, _ = run(capsys, "list", "--ledger-conn-id", "cli_ledger", "--state", "failed")
    assert code == 0 and "campaign:spring:jane" in out
    code, out, err = run(capsys, "list", "--ledger-conn-id", "no_such_conn")
    assert (code, out) == (2, "")
    assert "cannot use connection 'no_such_conn'" in err and err.count("\n") == 1


def test_passwords_stay_out_of_errors(capsys):
    code, _, err = run(capsys, "list", "--url", "postgresql+psycopg://ops:s3cret-pw@127.0.0.1:1/ledger")
    assert code == 2 and "cannot read the ledger at postgresql+psycopg://ops:***@127.0.0.1:1/ledger" in err
    assert "s3cret-pw" not in err


# -- settle ----------------------------------------------------------------------------------


def test_settle_an_unknown_send_as_sent(capsys, ledger_file, url):
    code, out, err = run(
        capsys, "settle", UNKNOWN_KEY, "sent", "--note", "seen in LinkedIn", "--by", "jane", "--url", url
    )
    assert (code, err) == (0, "")
    assert (
        out
        == f"settled '{UNKNOWN_KEY}': unknown -> sent (by jane): it was delivered; it is never sent again\n"
    )
    settled = entry(ledger_file, UNKNOWN_KEY)
    assert (settled.state, settled.settled_by, settled.settle_note) == (SENT, "jane", "seen in LinkedIn")
    assert settled.settled_at == NOW


def test_settle_as_failed_lets_the_next_run_send_again(capsys, ledger_file, url, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops-user")
    code, out, _ = run(
        capsys, "settle", "sequence:onboard:2:bob", "failed", "--note", "not in the inbox", "--url", url
    )
    assert code == 0 and "pending -> failed (by ops-user)" in out and "the next run may send it again" in out
    store = SendLedger.sqlite(ledger_file)
    try:
        settled = store.get("sequence:onboard:2:bob")
        assert settled is not None and settled.settled_by == "ops-user"
        assert store.claim(NewSend("sequence:onboard:2:bob", "acct-a", "bob")).claimed
    finally:
        store.close()


def test_settle_warns_about_a_send_that_may_be_in_progress(capsys, url):
    code, _, err = run(capsys, "settle", "crm/send/manual__1/ann", "failed", "--note", "x", "--url", url)
    assert code == 0 and "may still be sending" in err


@pytest.mark.parametrize(
    ("key", "state", "message"),
    [
        ("campaign:spring:john", "failed", "'campaign:spring:john' is sent: only pending or unknown"),
        ("campaign:spring:jane", "sent", "is failed: only pending or unknown"),
        ("campaign:spring:nobody", "sent", "no send with key 'campaign:spring:nobody'"),
        (UNKNOWN_KEY, "delivered", "settle a send as 'sent' or 'failed', not 'delivered'"),
    ],
)
def test_settle_refusals_change_nothing(capsys, ledger_file, url, key, state, message):
    before = entry(ledger_file, key)
    code, out, err = run(capsys, "settle", key, state, "--note", "checked", "--url", url)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1
    assert entry(ledger_file, key) == before


def test_settle_needs_a_real_note(capsys, ledger_file, url):
    code, _, err = run(capsys, "settle", UNKNOWN_KEY, "sent", "--note", "  ", "--url", url)
    assert code == 2 and "--note must say what you checked" in err
    assert entry(ledger_file, UNKNOWN_KEY).state == UNKNOWN


# -- export ----------------------------------------------------------------------------------


def test_export_csv_parses_back(capsys, url):
    code, out, _ = run(capsys, "export", "--url", url)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert list(rows[0]) == ["key", "campaign", "state", "account", "recipient", "recipient_urn",
                             "conversation_urn", "created_at", "updated_at", "error"]  # fmt: skip
    assert [r["key"] for r in rows][:2] == ["sequence:onboard:1:bob", "campaign:spring:jane"]  # oldest first
    by_key = {r["key"]: r for r in rows}
    assert len(by_key) == 6
    assert by_key["campaign:spring:john"]["campaign"] == "spring"
    assert by_key["sequence:onboard:1:bob"]["campaign"] == "onboard"
    assert by_key["crm/send/manual__1/ann"]["campaign"] == ""
    assert by_key["campaign:spring:jane"]["error"] == "ValidationError: bad input"
    assert by_key["campaign:spring:john"]["created_at"] == "2025-03-10T14:00:00+00:00"


def test_export_to_a_file_with_filters(capsys, url, tmp_path):
    target = tmp_path / "out.csv"
    code, out, err = run(
        capsys, "export", "--url", url, "--campaign", "spring", "--state", "sent,unknown", "-o", str(target)
    )
    assert (code, out) == (0, "")
    assert f"exported 2 sends to {target}" in err
    with target.open(newline="") as handle:
        assert {r["key"] for r in csv.DictReader(handle)} == {"campaign:spring:john", UNKNOWN_KEY}


# -- stats -----------------------------------------------------------------------------------


def test_stats_json(capsys, url):
    code, out, _ = run(capsys, "stats", "--url", url, "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["today_since"] == "2025-03-10T00:00:00+00:00"
    accounts = {a["account"]: a for a in report["accounts"]}
    assert accounts["acct-a"] == {
        "account": "acct-a",
        "sent_today": 1,
        "pending": 1,
        "sent": 2,
        "failed": 0,
        "unknown": 1,
    }
    assert accounts["acct-b"]["failed"] == 1 and accounts["default"]["pending"] == 1
    campaigns = {c["campaign"]: c for c in report["campaigns"]}
    assert campaigns["spring"] == {
        "campaign": "spring",
        "kind": "batch",
        "sends": {"pending": 0, "sent": 1, "failed": 1, "unknown": 1},
    }
    onboard = campaigns["onboard"]
    assert onboard["kind"] == "sequence" and onboard["sends"]["pending"] == 1
    assert {k: onboard["enrollments"][k] for k in ("replied", "active", "finished")} == {
        "replied": 1,
        "active": 1,
        "finished": 0,
    }


def test_stats_table(capsys, url):
    code, out, _ = run(capsys, "stats", "--url", url)
    assert code == 0
    assert "Accounts (today = since 2025-03-10 00:00:00 UTC)" in out
    assert any(line.split() == ["acct-a", "1", "1", "2", "0", "1"] for line in out.splitlines())
    assert any(line.split() == ["spring", "batch", "0", "1", "1", "1"] for line in out.splitlines())
    assert any(line.split() == ["onboard", "1", "1", "0", "0", "0", "0", "0"] for line in out.splitlines())


# -- PostgreSQL as well as SQLite ------------------------------------------------------------


def test_list_and_settle_on_each_database(capsys, ledger):
    seed(ledger)
    where = ledger.engine.url.render_as_string(hide_password=False)
    code, out, _ = run(capsys, "list", "--url", where, "--state", "unknown", "--format", "json")
    assert code == 0 and [r["key"] for r in json.loads(out)] == [UNKNOWN_KEY]
    code, out, _ = run(
        capsys, "settle", UNKNOWN_KEY, "failed", "--note", "not delivered", "--by", "ops", "--url", where
    )
    assert code == 0
    settled = ledger.get(UNKNOWN_KEY)
    assert (settled.state, settled.settled_by, settled.settle_note, settled.settled_at) == (
        FAILED,
        "ops",
        "not delivered",
        NOW,
    )
    assert run(capsys, "settle", UNKNOWN_KEY, "sent", "--note", "x", "--url", where)[0] == 2
    assert ledger.get(UNKNOWN_KEY).state == FAILED
    assert "connectsafely-tests" not in out


# -- packaging -------------------------------------------------------------------------------


def test_console_script_is_declared():
    text = (REPO / "pyproject.toml").read_text()
    assert 'connectsafely-ledger = "airflow_provider_connectsafely.cli.ledger:main"' in text


def test_runs_as_a_module_and_imports_cheaply():
    code = (
        "import sys, airflow_provider_connectsafely.cli.ledger; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'airflow', 'alembic'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "[]", result.stderr
    help_run = subprocess.run(
        [sys.executable, "-m", "airflow_provider_connectsafely.cli.ledger", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert help_run.returncode == 0
    for command in ("list", "stats", "settle", "export"):
        assert command in help_run.stdout


def test_stats_of_a_campaign_show_its_results_per_step_and_variant(capsys, ledger):
    from helpers import variant_ledger

    variant_ledger.fill(ledger)
    where = ledger.engine.url.render_as_string(hide_password=False)
    code, out, _ = run(capsys, "stats", "--url", where, "--campaign", "q4")
    assert code == 0
    lines = out.split("Results per step and variant (q4)")[1].splitlines()
    assert ["sequence", "1", "a", "10", "3", "30.0%", "10.8%-60.3%"] in [line.split() for line in lines]
    assert ["sequence", "1", "b", "8", "1", "12.5%", "2.2%-47.1%"] in [line.split() for line in lines]
    assert ["sequence", "2", "(one", "message)", "5", "2", "40.0%", "11.8%-76.9%"] in [
        line.split() for line in lines
    ]

    code, out, _ = run(capsys, "stats", "--url", where, "--campaign", "spring", "--format", "json")
    assert code == 0
    assert json.loads(out)["variants"] == [
        {
            "kind": "batch",
            "step": None,
            "variant": v,
            "sent": n,
            "replied": None,
            "reply_rate": None,
            "ci95": None,
        }
        for v, n in (("a", 4), ("b", 2))
    ]
    code, out, _ = run(capsys, "stats", "--url", where)
    assert "Results per step and variant" not in out
