"""Defaults with one home: every layer reads them from here (no imports, no Airflow)."""

from __future__ import annotations

from datetime import timedelta

#: The Airflow connection the hook, operators and notifier use unless told otherwise.
CONN_ID = "connectsafely_default"
#: The API root when a connection names no host.
BASE_URL = "https://api.connectsafely.ai"
#: Read timeout for one request, in seconds (the connection's ``timeout`` extra overrides it).
TIMEOUT = 30.0
#: Connect timeout for one request, in seconds.
CONNECT_TIMEOUT = 10.0
#: Longest 429 wait, in seconds, sat out inside a task before deferring instead.
MAX_RATE_LIMIT_WAIT = 60.0
#: Request-rate pacing follows ``X-RateLimit-*`` headers only when their reset is at most this
#: many seconds away: the API's request window is a minute; a later reset is a daily or weekly
#: quota, left to the caps and deferral.
RATE_WINDOW_HORIZON = 120.0
#: Seconds pacing waits past a window's reset, for clocks that differ slightly.
PACING_MARGIN = 0.25
#: ConnectSafely's documented default: 150 messages per LinkedIn account per UTC day.
DAILY_LIMIT = 150
#: Longest total time a task may spend deferred waiting for limits to reset.
MAX_DEFER = timedelta(hours=25)
#: How long a ``pending`` ledger row claimed by another task counts as a send in progress.
IN_FLIGHT_FOR = timedelta(minutes=15)
#: ConnectSafely's documented limit: connection requests per LinkedIn account per week, the
#: week starting Monday 00:00 UTC.
WEEKLY_CONNECT_LIMIT = 90
#: A sequence re-reads whether a connection request was accepted after this share of the
#: invitation's age has passed since the last read, and at least once this often.
ACCEPT_RECHECK_SHARE = 0.25
ACCEPT_RECHECK_MAX = timedelta(days=1)
#: The longest note (``customMessage``) a connection request may carry, in UTF-16 code units.
CONNECT_NOTE_LENGTH = 300
#: Longest total time a connection request may spend deferred: a weekly reset is up to 7 days
#: away, and a 429 puts connection requests on a 24 h hold.
CONNECT_MAX_DEFER = timedelta(days=8, hours=1)
#: The time zone a ``send_window`` is read in when the task and the recipient name none.
SEND_WINDOW_TIMEZONE = "UTC"
#: The most per-recipient outcome rows a campaign asset event's extra carries; a run with more
#: gives a pointer to its XCom instead (the metadata database stores every event's extra).
ASSET_EVENT_OUTCOMES = 200

# Airflow configuration: the ``[connectsafely]`` section (environment variables
# ``AIRFLOW__CONNECTSAFELY__<OPTION>``). get_provider_info() declares it from these names and
# defaults, so ``airflow config list`` shows what the code falls back to.
CONFIG_SECTION = "connectsafely"
#: ``[connectsafely] ledger_conn_id``: the Airflow connection of the send ledger. Empty: the
#: ConnectSafely connection's ``ledger_conn_id`` extra, else the default SQLite file.
CONFIG_LEDGER_CONN_ID = "ledger_conn_id"
LEDGER_CONN_ID = ""
#: ``[connectsafely] auto_migrate``: whether a task brings an older ledger schema up to date
#: itself; when off it fails, naming ``connectsafely-ledger upgrade``.
CONFIG_AUTO_MIGRATE = "auto_migrate"
AUTO_MIGRATE = True
#: ``[connectsafely] erasure_secret``: the key of the hashes that stand for forgotten people
#: (never stored in the ledger). Empty: ``connectsafely-ledger forget`` refuses.
CONFIG_ERASURE_SECRET = "erasure_secret"
#: ``[connectsafely] retain_text_days``: message and reply texts older than this many days are
#: blanked by ``connectsafely-ledger prune`` (and the tasks, once a day). Empty: kept.
CONFIG_RETAIN_TEXT_DAYS = "retain_text_days"
