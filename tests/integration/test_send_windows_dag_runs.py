"""Sending windows in a real DAG run (dag.test() against the emulator over loopback): a batch
and a sequence send to the recipients whose window is open, defer, and send to the rest when
theirs opens; a closed window skips or fails as ``on_limit`` says; a bad time zone fails
before any request, without retries.

The windows are built around the moment the test starts the run, on clocks without DST, as
ranges on every day that may cross midnight: open or closed is then the same at any time of
day, on any date. The held recipients' windows open a margin later (the batch's check comes
some 5 seconds after the start, the sequence's 1 to 2 after the batch resumes), so the run
reaches each check well before.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import airflow.sdk  # noqa: F401  (Airflow sets up logging when first imported: before the capture)
import pytest
from helpers.connections import API_KEY, connection_json
from helpers.dag_runs import load_dag, task_results
from helpers.send_windows import clock_range, every_day
from helpers.task_logs import by_task, captured_task_logs

HOUR = timedelta(hours=1)
#: When the batch's held recipient (Tokyo) can first be sent to, after the run starts.
BATCH_OPENS_IN = timedelta(seconds=20)
#: The sequence runs after the batch: its held recipient (Kolkata) waits a little longer.
SEQUENCE_OPENS_IN = BATCH_OPENS_IN + timedelta(seconds=10)


@pytest.fixture(scope="module")
def windows_run(emulator_server, airflow_db):
    emulator_server.reset()
    start = datetime.now(timezone.utc)
    open_in_utc = clock_range("UTC", -HOUR, 2 * HOUR, at=start)
    conf = {
        "batch_window": every_day(open_in_utc, clock_range("Asia/Tokyo", BATCH_OPENS_IN, HOUR, at=start)),
        "sequence_window": every_day(
            open_in_utc, clock_range("Asia/Kolkata", SEQUENCE_OPENS_IN, HOUR, at=start)
        ),
        "closed_window": every_day(clock_range("UTC", 2 * HOUR, HOUR, at=start)),
        "bad_tz": "Mars/Olympus",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_CONNECTSAFELY_DEFAULT", connection_json(emulator_server.url))
        with captured_task_logs() as lines:
            run = load_dag("connectsafely_test_send_windows").test(run_conf=conf)
    result = {
        "start": start.replace(microsecond=0),
        "tis": {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()},
        "results": task_results(run),
        "logs": by_task(lines),
        "sent_at": {
            m["recipientProfileId"]: datetime.fromisoformat(m["at"]) for m in emulator_server.messages()
        },
        "requested": [r["body"].get("recipientProfileId") for r in emulator_server.requests()],
    }
    emulator_server.reset()
    return result


def test_a_batch_sends_to_open_windows_defers_and_then_sends_to_the_rest(windows_run):
    assert windows_run["tis"]["batch"][0] == "success"
    opens = windows_run["start"] + BATCH_OPENS_IN
    sent_at = windows_run["sent_at"]
    assert sent_at["win-utc-uma"] < opens <= sent_at["win-tokyo-taro"]
    log = windows_run["logs"]["batch"]
    assert "is closed for 1 recipient(s): 1 in Asia/Tokyo (opens " in log and "Deferring until" in log
    outcomes = windows_run["results"][("batch", -1)][1]["outcomes"]
    assert {o["recipient"]: o["status"] for o in outcomes} == {
        "win-utc-uma": "sent",
        "win-tokyo-taro": "sent",
    }
    assert windows_run["requested"].count("win-utc-uma") == 1  # the resumed try skipped her


def test_a_sequence_waits_for_each_recipients_window(windows_run):
    assert windows_run["tis"]["sequence"][0] == "success"
    opens = windows_run["start"] + SEQUENCE_OPENS_IN
    sent_at = windows_run["sent_at"]
    assert sent_at["win-seq-sue"] < opens <= sent_at["win-seq-kiran"]
    assert "1 in Asia/Kolkata (opens " in windows_run["logs"]["sequence"]
    result = windows_run["results"][("sequence", -1)][1]
    assert result["summary"]["finished"] == 2


def test_a_closed_window_skips_or_fails_as_on_limit_says(windows_run):
    assert windows_run["tis"]["closed_skip"] == ("skipped", 1)
    assert windows_run["tis"]["closed_fail"][0] == "failed"
    assert "send window 'Mon-Sun " in windows_run["logs"]["closed_skip"]
    assert "on_limit='skip'" in windows_run["logs"]["closed_skip"]
    assert "; opens at " in windows_run["logs"]["closed_fail"]
    assert not {"win-skip-sid", "win-fail-fay"} & set(windows_run["requested"])


def test_a_bad_time_zone_fails_before_any_request_without_retries(windows_run):
    assert windows_run["tis"]["bad_timezone"] == ("failed", 1)  # retries=2, none used
    log = windows_run["logs"]["bad_timezone"]
    expected = (
        "AirflowFailException: ConnectSafelyValidationError: Invalid `timezone`: 'Mars/Olympus' is not "
        "an IANA time zone name. Fix: use a tz database name"
    )
    assert expected in log
    assert "win-bad-bea" not in windows_run["requested"]
    assert API_KEY not in log
