"""One locator for every surface: the precedence (argument → ``[connectsafely] ledger_conn_id``
→ the ConnectSafely connection's extra → the default SQLite file), the per-process cache,
``auto_migrate``, and the note when a surface falls back to the default file.

The configuration matrix at the end runs a real send (the operator against the emulator), then
reads the ledger through the page's data endpoint and ``connectsafely-ledger list``: for each way
of configuring, all three must meet in the same database.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3

import pytest
from helpers.connections import connection_json
from helpers.paths import FIXTURES

from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
from airflow_provider_connectsafely.ledger import locate
from airflow_provider_connectsafely.ledger.locate import LedgerLocation
from airflow_provider_connectsafely.ledger.migrations import HEAD
from airflow_provider_connectsafely.ledger.records import NewSend

CONFIG_ENV = "AIRFLOW__CONNECTSAFELY__LEDGER_CONN_ID"
AUTO_MIGRATE_ENV = "AIRFLOW__CONNECTSAFELY__AUTO_MIGRATE"


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: object) -> None:
        self.warnings.append(message % args)


def sqlite_conn(monkeypatch, conn_id: str, path) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(locate, "_OPEN", {})
    yield
    for ledger in locate._OPEN.values():
        ledger.close()


# -- precedence ----------------------------------------------------------------------------


def test_nothing_configured_is_the_default_file(isolated_default_ledger, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    found = locate.locate(extra_ledger_conn_id=None)
    assert found == LedgerLocation(f"sqlite:///{isolated_default_ledger}", locate.DEFAULT)
    assert "default SQLite file" in found.describe()


def test_each_setting_wins_over_the_ones_below_it(tmp_path, monkeypatch):
    for name in ("arg", "cfg", "extra"):
        sqlite_conn(monkeypatch, f"ledger_{name}", tmp_path / f"{name}.db")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT",
        connection_json("http://127.0.0.1:1", ledger_conn_id="ledger_extra"),
    )

    assert locate.locate().source == locate.CONNECTION
    assert locate.locate().url.endswith("extra.db")
    monkeypatch.setenv(CONFIG_ENV, "ledger_cfg")
    assert (locate.locate().source, locate.locate().conn_id) == (locate.CONFIG, "ledger_cfg")
    found = locate.locate("ledger_arg")
    assert (found.source, found.conn_id) == (locate.ARGUMENT, "ledger_arg")
    assert found.url.endswith("arg.db")
    assert "[connectsafely]" in locate.locate().describe()


def test_a_task_passes_the_extra_it_has_read(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    sqlite_conn(monkeypatch, "ledger_task", tmp_path / "task.db")
    # connectsafely_default names nothing here: the task's own connection's extra counts.
    found = locate.locate(extra_ledger_conn_id="ledger_task")
    assert (found.source, found.conn_id) == (locate.CONNECTION, "ledger_task")


def test_an_explicit_url_and_connection_together_are_refused():
    with pytest.raises(locate.LedgerUnavailable, match="not both"):
        locate.locate("x", url="sqlite:///y")


def test_describe_never_shows_a_password():
    where = LedgerLocation("postgresql+psycopg://u:s3cret@db/ledger?password=s3cret", locate.ARGUMENT)
    assert "s3cret" not in where.describe() and "s3cret" not in repr(where)


def test_an_undefined_ledger_connection_is_a_config_error(monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, "no_such_ledger")
    with pytest.raises(ConnectSafelyConfigError, match="no_such_ledger"):
        locate.locate()


# -- opening, caching, auto_migrate --------------------------------------------------------


def test_the_default_ledger_is_opened_once_per_process(isolated_default_ledger, fresh_cache):
    where = locate.locate(extra_ledger_conn_id=None)
    ledger = locate.open_ledger(where, _Log())
    assert ledger.describe() == f"sqlite:///{isolated_default_ledger}"
    assert locate.open_ledger(where, _Log()) is ledger


def test_warns_when_sqlite_meets_a_distributed_executor(isolated_default_ledger, fresh_cache, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    log = _Log()
    locate.open_ledger(locate.locate(extra_ledger_conn_id=None), log)
    assert any("several machines" in line and "ledger_conn_id" in line for line in log.warnings)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setattr(locate, "_OPEN", {})
    quiet = _Log()
    locate.open_ledger(locate.locate(extra_ledger_conn_id=None), quiet)
    assert quiet.warnings == []


@pytest.mark.postgres
def test_ledger_from_a_postgres_connection(postgres_url, fresh_cache, monkeypatch):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_PG",
        f"postgres://{url.username}:{url.password}@{url.host}:{url.port}/{url.database}",
    )
    ledger = locate.open_ledger(locate.locate("ledger_pg"))
    assert ledger.engine.dialect.name == "postgresql"
    assert ledger.claim(NewSend("k", "acc", "john")).claimed


def test_ledger_from_an_explicit_sqlalchemy_url_extra(tmp_path, fresh_cache, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEDGER_X",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": f"sqlite:///{tmp_path}/x.db"}}),
    )
    assert locate.open_ledger(locate.locate("ledger_x")).describe().endswith("x.db")


def load_0_1(path) -> None:
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "ledger_0_1.sqlite.sql").read_text(encoding="utf-8"))
    db.close()


def dump(path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def test_with_auto_migrate_off_a_task_refuses_an_old_ledger_and_changes_nothing(
    tmp_path, fresh_cache, monkeypatch
):
    path = tmp_path / "old.db"
    load_0_1(path)
    before = dump(path)
    sqlite_conn(monkeypatch, "ledger_old", path)
    monkeypatch.setenv(AUTO_MIGRATE_ENV, "False")
    ledger = locate.open_ledger(locate.locate("ledger_old"))
    with pytest.raises(ConnectSafelyConfigError) as caught:
        ledger.claim(NewSend("k", "acc", "john"))
    message = str(caught.value)
    assert "\n" not in message
    assert "connectsafely-ledger upgrade" in message and "auto_migrate" in message and "0001" in message
    assert dump(path) == before


def test_with_auto_migrate_off_a_new_database_is_not_created_either(tmp_path, fresh_cache, monkeypatch):
    sqlite_conn(monkeypatch, "ledger_new", tmp_path / "new.db")
    monkeypatch.setenv(AUTO_MIGRATE_ENV, "false")
    with pytest.raises(ConnectSafelyConfigError, match="no ledger tables yet"):
        locate.open_ledger(locate.locate("ledger_new")).get("k")


def test_with_auto_migrate_on_a_task_upgrades_an_old_ledger(tmp_path, fresh_cache, monkeypatch):
    path = tmp_path / "old.db"
    load_0_1(path)
    sqlite_conn(monkeypatch, "ledger_old", path)
    monkeypatch.delenv(AUTO_MIGRATE_ENV, raising=False)
    ledger = locate.open_ledger(locate.locate("ledger_old"))
    assert ledger.claim(NewSend("k", "acc", "john")).claimed
    assert ledger.schema_version() == HEAD


def test_a_bad_auto_migrate_value_names_the_fix(monkeypatch):
    monkeypatch.setenv(AUTO_MIGRATE_ENV, "sometimes")
    with pytest.raises(ConnectSafelyConfigError, match="true or false"):
        locate.auto_migrate()


# -- the note when a reader falls back to the default file ----------------------------------


def test_a_reader_on_the_default_file_is_told_about_a_connection_naming_another(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CS_TEAM", connection_json("http://127.0.0.1:1", ledger_conn_id="team_ledger")
    )
    notice = locate.fallback_notice(locate.locate(extra_ledger_conn_id=None))
    assert notice is not None and "'cs_team' names 'team_ledger'" in notice
    assert "[connectsafely] ledger_conn_id" in notice
    assert locate.fallback_notice(LedgerLocation("sqlite:///x", locate.CONFIG, "x")) is None


def test_no_note_when_nothing_names_another_ledger(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(name)
    assert locate.fallback_notice(locate.locate(extra_ledger_conn_id=None)) is None


# -- the configuration matrix: a task, the page and the CLI meet in one database ------------


def page_sends(client) -> list[str]:
    answer = client.get("/api/sends")
    assert answer.status_code == 200, answer.text
    return [row["dedupe_key"] for row in answer.json()["rows"]]


def cli_keys(*flags: str) -> list[str]:
    from airflow_provider_connectsafely.cli.ledger import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([*flags, "list", "--format", "json"])
    assert status == 0, err.getvalue()
    return [row["key"] for row in json.loads(out.getvalue())]


@pytest.mark.parametrize("way", ["none", "config", "extra", "argument"])
def test_a_task_the_page_and_the_cli_use_the_same_ledger(
    way, connection, tmp_path, isolated_default_ledger, fresh_cache, monkeypatch
):
    from fastapi.testclient import TestClient

    from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator
    from airflow_provider_connectsafely.plugins import api

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    target = tmp_path / "shared.db"
    sqlite_conn(monkeypatch, "team_ledger", target)
    # A stale default file from an earlier, unconfigured run: nobody may read it by mistake.
    stale = locate.open_ledger(locate.locate(extra_ledger_conn_id=None))
    stale.claim(NewSend("stale-key", "acc", "someone"))
    operator_args: dict = {}
    cli_flags: list[str] = []
    if way == "config":
        monkeypatch.setenv(CONFIG_ENV, "team_ledger")
    elif way == "extra":
        monkeypatch.setenv(
            "AIRFLOW_CONN_CONNECTSAFELY_DEFAULT",
            connection_json(connection.url, ledger_conn_id="team_ledger"),
        )
    elif way == "argument":
        operator_args["ledger_conn_id"] = "team_ledger"
        cli_flags = ["--ledger-conn-id", "team_ledger"]

    SendLinkedInMessageOperator(
        task_id="send",
        recipient_profile_id="ada-lovelace",
        message="Hi",
        dedupe_key=f"matrix:{way}",
        **operator_args,
    ).execute({})

    expected = "stale-key" if way == "none" else f"matrix:{way}"
    keys = cli_keys(*cli_flags)
    assert f"matrix:{way}" in keys and (way == "none" or "stale-key" not in keys)
    if way != "argument":  # the page has no argument of its own: config or extra name its ledger
        client = TestClient(api.create_app(security={api.reader: lambda: "t", api.settler: lambda: "t"}))
        assert f"matrix:{way}" in page_sends(client)
        assert expected in page_sends(client)
        if way != "none":
            assert "stale-key" not in page_sends(client)
    if way != "none":
        assert target.is_file()
