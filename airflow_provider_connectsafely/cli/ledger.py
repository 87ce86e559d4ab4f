"""``connectsafely-ledger``: read the send ledger, export it, settle unknown sends by hand, and
upgrade its schema.

Commands: ``list``, ``stats``, ``export``, ``version`` (read only), ``settle KEY sent|failed
--note``, ``upgrade [--sql]``; the do-not-contact list (``suppress add|remove|list|import``);
and personal data (``show-person``, ``forget``, ``prune``). The ledger is found as the tasks find it
(:mod:`airflow_provider_connectsafely.ledger.locate`): ``--url`` or ``--ledger-conn-id``, else
``[connectsafely] ledger_conn_id``, else the ``connectsafely_default`` connection's
``ledger_conn_id`` extra, else the default SQLite file.
Problems are one line on stderr and exit status 2, with nothing changed. Importing this
module is cheap: SQLAlchemy (and Airflow, for ``--ledger-conn-id``) load when a command runs.

Run as ``connectsafely-ledger ...`` or ``python -m airflow_provider_connectsafely.cli.ledger ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_connectsafely.cli.ledger_location import CliError
from airflow_provider_connectsafely.ledger.records import PENDING, SEND_STATES, SETTLE_STATES, UNKNOWN

if TYPE_CHECKING:
    from airflow_provider_connectsafely.clock import Clock
    from airflow_provider_connectsafely.ledger.queries import Filters
    from airflow_provider_connectsafely.ledger.store import SendLedger

PROG = "connectsafely-ledger"
DEFAULT_LIMIT = 100
_MEANING = {
    "sent": "it was delivered; it is never sent again",
    "failed": "it was not delivered; the next run may send it again",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (and exit status 2), like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line: a ledger location and one of ``list``, ``stats``, ``settle``, ``export``."""
    # Accepted before or after the command; after it, only when given (SUPPRESS), so that the
    # command's defaults do not hide a location given before it.
    where = _location(argparse.SUPPRESS)

    filters = _Parser(add_help=False)
    filters.add_argument(
        "--state", metavar="STATE[,STATE]", help=f"only these states: {', '.join(SEND_STATES)}"
    )
    filters.add_argument("--campaign", help="only keys campaign:<CAMPAIGN>:... and sequence:<CAMPAIGN>:...")
    filters.add_argument("--account", help="only sends of this LinkedIn account ('default' when unnamed)")
    filters.add_argument(
        "--since", metavar="ISO", help="only rows updated since (UTC unless an offset is given)"
    )

    parser = _Parser(
        prog=PROG,
        description="Read the ConnectSafely send ledger, export it, and settle unknown sends by hand.",
        parents=[_location(None)],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    show = commands.add_parser("list", parents=[where, filters], help="list sends, newest first")
    show.add_argument("--limit", type=_count, default=DEFAULT_LIMIT, help="at most N rows (0: all; 100)")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.add_argument("--wide", action="store_true", help="table cells in full (keys to copy for settle)")

    stats = commands.add_parser("stats", parents=[where], help="counts per account and per campaign")
    stats.add_argument(
        "--campaign", help="only this campaign, with its results per step and variant (sent, replied, rate)"
    )
    stats.add_argument("--account", help="only this account")
    stats.add_argument("--format", choices=("table", "json"), default="table")

    settle = commands.add_parser("settle", parents=[where], help="settle a pending or unknown send by hand")
    settle.add_argument("key", metavar="KEY", help="the send's dedupe key")
    settle.add_argument("state", metavar="sent|failed", help="sent: it was delivered; failed: it was not")
    settle.add_argument("--note", required=True, help="what you checked (kept in the ledger)")
    settle.add_argument("--by", metavar="NAME", help="who settles it (default: your OS user name)")

    export = commands.add_parser("export", parents=[where, filters], help="sends as CSV, oldest first")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument("--limit", type=_count, default=0, help="at most N rows (0: all, the default)")

    upgrade = commands.add_parser(
        "upgrade", parents=[where], help="migrate the ledger to this provider's schema (idempotent)"
    )
    upgrade.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it (for a DBA to review)",
    )
    commands.add_parser("version", parents=[where], help="the ledger's schema version and this provider's")
    _privacy_commands(commands, where)
    return parser


def _privacy_commands(commands: Any, where: _Parser) -> None:
    suppress = commands.add_parser(
        "suppress", parents=[where], help="the do-not-contact list every send obeys"
    )
    actions = suppress.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    scope = _Parser(add_help=False)
    scope.add_argument(
        "--campaign", help="only this campaign (NAME, or batch:NAME / sequence:NAME); default: everywhere"
    )
    add = actions.add_parser("add", parents=[where, scope], help="never contact this person (again)")
    add.add_argument("person", metavar="PERSON", help="profile ID, profile URL or URN")
    add.add_argument("--reason", help="why (kept in the ledger)")
    add.add_argument("--by", metavar="NAME", help="who adds it (default: your OS user name)")
    remove = actions.add_parser("remove", parents=[where, scope], help="take a person off the list")
    remove.add_argument("person", metavar="PERSON", help="profile ID, profile URL or URN")
    show = actions.add_parser("list", parents=[where, scope], help="the list, newest first")
    show.add_argument("--person", help="only this person's entries")
    show.add_argument("--format", choices=("table", "json"), default="table")
    load = actions.add_parser("import", parents=[where], help="add every row of a CSV file (all or nothing)")
    load.add_argument(
        "file",
        metavar="FILE.csv",
        help=f"columns: {'|'.join(_PERSON_COLUMNS)}, and optional campaign, reason",
    )
    load.add_argument("--by", metavar="NAME", help="who imports it (default: your OS user name)")

    person = commands.add_parser(
        "show-person", parents=[where], help="everything held about one person, as JSON (access requests)"
    )
    person.add_argument("person", metavar="PERSON", help="profile ID, profile URL or URN")
    person.add_argument("--json", action="store_true", help="JSON output (the only format)")
    forget = commands.add_parser(
        "forget", parents=[where], help="erase one person's data; they stay on the do-not-contact list"
    )
    forget.add_argument("person", metavar="PERSON", help="profile ID, profile URL or URN")
    forget.add_argument("--by", metavar="NAME", help="who erases (recorded; default: your OS user name)")
    prune = commands.add_parser(
        "prune", parents=[where], help="blank message and reply texts older than N days"
    )
    prune.add_argument(
        "--days", type=_count, help="default: [connectsafely] retain_text_days (no default when unset)"
    )


def _location(default: Any) -> _Parser:
    where = _Parser(add_help=False)
    group = where.add_mutually_exclusive_group()
    group.add_argument(
        "--ledger-conn-id", metavar="ID", default=default, help="an Airflow connection naming the ledger"
    )
    group.add_argument("--url", metavar="SQLALCHEMY_URL", default=default, help="the ledger's SQLAlchemy URL")
    return where


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run one command; return the exit status (0, or 2 after an error or a usage error).

    :param argv: the arguments (``sys.argv[1:]`` when None).
    :param clock: what "now" is (the start of "today" for ``stats``, a settlement's time);
        the wall clock when None.
    """
    from airflow_provider_connectsafely.clock import utc_now

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    handler = {
        "list": _list,
        "stats": _stats,
        "settle": _settle,
        "export": _export,
        "upgrade": _upgrade,
        "version": _version,
        "suppress": _suppress,
        "show-person": _show_person,
        "forget": _forget,
        "prune": _prune,
    }[args.command]
    try:
        return handler(args, clock or utc_now)
    except CliError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `| head` stopped reading: not an error, and no traceback
        _silence_stdout()
        return 0


def _list(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli import ledger_format as fmt
    from airflow_provider_connectsafely.ledger import queries

    filters = _filters(args)
    with _opened(args, clock) as ledger:
        limit = args.limit or None
        entries = queries.list_entries(ledger, filters, limit=limit)
        total = queries.count_entries(ledger, filters) if limit and len(entries) == limit else len(entries)
    if args.format == "json":
        print(fmt.dumps([fmt.entry_dict(e) for e in entries]))
    elif entries:
        print(fmt.entries_table(entries, wide=args.wide))
    else:
        print("(no sends match)")
    if total > len(entries):
        print(f"showing the newest {len(entries)} of {total} sends; --limit 0 shows all", file=sys.stderr)
    return 0


def _stats(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli import ledger_format as fmt
    from airflow_provider_connectsafely.ledger import queries

    filters = queries.Filters(campaign=args.campaign, account=args.account)
    now = clock().astimezone(timezone.utc)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with _opened(args, clock) as ledger:
        accounts = queries.account_stats(ledger, filters, day_start=day_start)
        campaigns = queries.campaign_stats(ledger, filters)
        results = _variant_results(ledger, args.campaign) if args.campaign else None
    if args.format == "json":
        report = fmt.stats_dict(day_start, accounts, campaigns)
        if results is not None:
            report["variants"] = results
        print(fmt.dumps(report))
    else:
        print(fmt.stats_text(day_start, accounts, campaigns))
        if results is not None:
            print(f"\nResults per step and variant ({args.campaign})")
            print(fmt.variants_text(results))
    return 0


def _variant_results(ledger: SendLedger, campaign: str) -> list[dict[str, Any]]:
    """The campaign's sends per step and variant, as a batch and as a sequence of that name."""
    from airflow_provider_connectsafely.ledger.queries import BATCH, SEQUENCE, variant_counts
    from airflow_provider_connectsafely.outreach.variants import result_row

    return [
        {"kind": kind, **result_row(*row)}
        for kind in (BATCH, SEQUENCE)
        for row in variant_counts(ledger, kind, campaign)
    ]


def _settle(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.defaults import IN_FLIGHT_FOR

    if args.state not in SETTLE_STATES:
        raise CliError(f"settle a send as 'sent' or 'failed', not {args.state!r}")
    note = " ".join(args.note.split())
    if not note:
        raise CliError("--note must say what you checked")
    by = args.by.strip() if args.by and args.by.strip() else _os_user()
    with _opened(args, clock) as ledger:
        entry = ledger.get(args.key)
        if entry is None:
            raise CliError(f"no send with key {args.key!r} in the ledger")
        if entry.state not in (PENDING, UNKNOWN):
            raise CliError(
                f"{args.key!r} is {entry.state}: only pending or unknown sends can be settled; "
                "nothing changed"
            )
        if entry.state == PENDING and clock() - entry.updated_at < IN_FLIGHT_FOR:
            print(
                f"warning: {args.key!r} was claimed at {entry.updated_at:%H:%M:%S} UTC "
                "and may still be sending",
                file=sys.stderr,
            )
        if not ledger.resolve(args.key, args.state, note, settled_by=by):
            now = ledger.get(args.key)
            raise CliError(
                f"{args.key!r} changed meanwhile (now {now.state if now else 'gone'}); nothing changed"
            )
    print(f"settled {args.key!r}: {entry.state} -> {args.state} (by {by}): {_MEANING[args.state]}")
    return 0


def _export(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli import ledger_format as fmt
    from airflow_provider_connectsafely.ledger import queries

    filters = _filters(args)
    with _opened(args, clock) as ledger:
        rows = queries.iter_entries(ledger, filters, limit=args.limit or None, newest_first=False)
        if not args.output:
            fmt.write_csv(rows, sys.stdout)
            return 0
        try:
            with open(args.output, "w", newline="", encoding="utf-8") as out:
                count = fmt.write_csv(rows, out)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    print(f"exported {count} sends to {args.output}", file=sys.stderr)
    return 0


def _upgrade(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli.ledger_location import find, open_for_upgrade
    from airflow_provider_connectsafely.ledger import migrations

    location = find(args.url, args.ledger_conn_id)
    ledger = open_for_upgrade(location)
    try:
        if args.sql:
            script = migrations.upgrade_sql(ledger.engine, location.where)
            print(
                script
                or f"-- The send ledger {location.where} is at schema {migrations.HEAD}: nothing to run."
            )
            return 0
        before = ledger.schema_version()
        changed = ledger.upgrade()
    except Exception as exc:  # unreachable database, a newer schema, a failed migration
        raise CliError(f"cannot upgrade the ledger at {location.where}: {_one_line(exc)}") from exc
    finally:
        ledger.close()
    if changed:
        print(f"Send ledger {location.describe()}: schema {before or '(none)'} -> {migrations.HEAD}")
    else:
        print(f"Send ledger {location.describe()}: already at schema {migrations.HEAD}; nothing to do")
    return 0


def _version(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely import __version__
    from airflow_provider_connectsafely.cli.ledger_location import find, plain_engine
    from airflow_provider_connectsafely.ledger import migrations, queries

    location = find(args.url, args.ledger_conn_id)
    engine = plain_engine(location)
    try:
        version = queries.schema_version(engine)
        if version is None and queries.has_sends_table(engine):
            version = migrations.BASELINE  # written by release 0.1, which recorded no version
    except Exception as exc:  # unreachable database
        raise CliError(f"cannot read the ledger at {location.where}: {_one_line(exc)}") from exc
    finally:
        engine.dispose()
    if version == migrations.HEAD:
        status = "up to date"
    elif version is not None and version > migrations.HEAD:
        status = "newer than this provider: install the provider version that upgraded it"
    else:
        status = "an upgrade is needed: run `connectsafely-ledger upgrade` (`--sql` shows the SQL first)"
    print(f"ledger:   {location.describe()}")
    print(f"schema:   {version or 'none (no ledger tables yet)'}")
    print(f"provider: {migrations.HEAD} (airflow-provider-connectsafely {__version__})")
    print(f"status:   {status}")
    return 0


#: The CSV columns ``suppress import`` reads the person from, the first present.
_PERSON_COLUMNS = (
    "person",
    "profile_url",
    "profile_id",
    "recipient_profile_id",
    "recipient_profile_urn",
    "urn",
)


def _suppress(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli import ledger_format as fmt
    from airflow_provider_connectsafely.ledger.suppressions import MANUAL, SuppressionList

    if args.action == "import":
        entries = _read_import(args.file)
    elif args.action in ("add", "remove"):
        entries = [_checked(args.person, args.campaign, MANUAL, getattr(args, "reason", None), "")]
    with _opened(args, clock) as ledger:
        if args.action == "list":
            found = ledger.suppressions(
                _checked(args.person, None, MANUAL, None, "")[0] if args.person else None,
                scope=_scope(args.campaign),
            )
            if args.format == "json":
                print(fmt.dumps([s.to_dict() for s in found]))
            elif found:
                rows = [
                    [
                        s.person,
                        s.scope or "everywhere",
                        s.source,
                        fmt.iso(s.created_at),
                        s.created_by or "",
                        s.reason or "",
                    ]
                    for s in found
                ]
                print(
                    fmt.table(
                        ["person", "scope", "source", "added", "by", "reason"], rows, [60, 30, 8, 25, 20, 60]
                    )
                )
            else:
                print(
                    "(the do-not-contact list is empty)"
                    if not (args.person or args.campaign)
                    else "(none match)"
                )
            return 0
        if args.action == "remove":
            person, scope = entries[0][0], _scope(args.campaign)
            gone = SuppressionList(ledger).remove(person, scope)
            if not gone:
                raise CliError(
                    f"{args.person!r} is not on the do-not-contact list{_where(scope)}; nothing changed"
                )
            print(f"removed {person!r} from the do-not-contact list{_where(scope)} ({gone} row(s))")
            return 0
        by = args.by.strip() if args.by and args.by.strip() else _os_user()
        added = SuppressionList(ledger).add(entries, created_by=by)
    if args.action == "add":
        if added:
            print(
                f"{entries[0][0]!r} is on the do-not-contact list{_where(entries[0][1])}: "
                "no send to them is claimed"
            )
        else:
            print(f"{entries[0][0]!r} was already on the do-not-contact list{_where(entries[0][1])}")
    else:
        print(
            f"imported {len(entries)} row(s) from {args.file}: {added} new do-not-contact "
            f"entr{'y' if added == 1 else 'ies'}"
        )
    return 0


def _checked(
    person: str, scope: str | None, source: str, reason: str | None, where: str
) -> tuple[str, str, str, str | None]:
    from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
    from airflow_provider_connectsafely.ledger.suppressions import check_entry

    try:
        return check_entry(person, scope, source, reason, where=where)
    except ConnectSafelyValidationError as exc:
        raise CliError(f"{exc.problem}; fix: {exc.fix}; nothing changed") from None


def _read_import(path: str) -> list[tuple[str, str, str, str | None]]:
    """Every row of the file, checked; the first bad one stops the import before any is added."""
    import csv

    from airflow_provider_connectsafely.ledger.suppressions import IMPORT

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            column = next((c for c in _PERSON_COLUMNS if c in columns), None)
            if column is None:
                raise CliError(
                    f"{path}: no person column in the header (found {', '.join(columns) or 'none'}); "
                    f"fix: name one column {' or '.join(_PERSON_COLUMNS[:3])}; nothing changed"
                )
            entries = []
            for raw in reader:
                row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
                if not any(row.values()):
                    continue  # a blank line
                where = f"{path} line {reader.line_num}"
                entries.append(
                    _checked(
                        row.get(column, ""),
                        row.get("campaign") or row.get("scope"),
                        IMPORT,
                        row.get("reason"),
                        where,
                    )
                )
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not a readable UTF-8 CSV file ({exc}); nothing changed") from exc
    return entries


def _scope(campaign: str | None) -> str | None:
    return campaign.strip() if campaign and campaign.strip() else None


def _where(scope: str | None) -> str:
    return f" for campaign {scope!r}" if scope else " (everywhere)" if scope == "" else ""


def _show_person(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.cli import ledger_format as fmt

    person = _checked(args.person, None, "manual", None, "")[0]
    with _opened(args, clock) as ledger:
        print(fmt.dumps(ledger.show_person(person)))
    return 0


def _forget(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError

    person = _checked(args.person, None, "manual", None, "")[0]
    by = args.by.strip() if args.by and args.by.strip() else _os_user()
    with _opened(args, clock) as ledger:
        try:
            erased = ledger.forget(person, erased_by=by)
        except ConnectSafelyConfigError as exc:
            raise CliError(f"{exc.message}; nothing changed") from None
    print(
        f"forgotten: {erased.sends} send(s) and {erased.enrollments} enrolment(s) blanked; the person stays "
        "on the do-not-contact list everywhere under a keyed hash; the erasure is recorded (when, by whom)"
    )
    return 0


def _prune(args: argparse.Namespace, clock: Clock) -> int:
    from airflow_provider_connectsafely.errors import ConnectSafelyConfigError
    from airflow_provider_connectsafely.ledger.locate import retain_text_days

    try:
        days = args.days if args.days is not None else retain_text_days()
    except ConnectSafelyConfigError as exc:
        raise CliError(exc.message) from None
    if not days:
        raise CliError("give --days N, or set [connectsafely] retain_text_days; nothing changed")
    with _opened(args, clock) as ledger:
        pruned = ledger.prune(days)
    print(
        f"pruned texts older than {days} day(s): {pruned.sends} stored API answer(s), {pruned.replies} "
        f"reply text(s), {pruned.contexts} ended enrolment(s)' template data; states, times and counts kept"
    )
    return 0


def _one_line(exc: BaseException) -> str:
    from airflow_provider_connectsafely.ledger.queries import first_line

    return first_line(exc)


class _opened:
    """The ledger named by the arguments, closed afterwards; database errors become CliError."""

    def __init__(self, args: argparse.Namespace, clock: Clock) -> None:
        self.args = args
        self.clock = clock
        self.ledger: SendLedger | None = None

    def __enter__(self) -> SendLedger:
        from airflow_provider_connectsafely.cli.ledger_location import find, open_ledger

        self.ledger = open_ledger(find(self.args.url, self.args.ledger_conn_id), clock=self.clock)
        return self.ledger

    def __exit__(self, kind: Any, exc: Any, _tb: Any) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from airflow_provider_connectsafely.ledger.queries import first_line

        assert self.ledger is not None
        where = self.ledger.describe()
        self.ledger.close()
        if isinstance(exc, SQLAlchemyError):
            raise CliError(f"cannot use the ledger at {where}: {first_line(exc)}") from exc


def _filters(args: argparse.Namespace) -> Filters:
    from airflow_provider_connectsafely.ledger.queries import Filters

    states = tuple(s.strip().lower() for s in (args.state or "").split(",") if s.strip())
    wrong = [s for s in states if s not in SEND_STATES]
    if wrong:
        raise CliError(f"no state {wrong[0]!r}: use one of {', '.join(SEND_STATES)}")
    return Filters(states=states, campaign=args.campaign, account=args.account, since=_since(args.since))


def _since(text: str | None) -> datetime | None:
    """``--since``: an ISO date (midnight UTC) or date and time (UTC unless it has an offset)."""
    if text is None:
        return None
    from airflow_provider_connectsafely.clock import from_iso

    try:
        parsed = from_iso(text)
    except ValueError:
        raise CliError(
            f"--since {text!r} is not an ISO date or time (e.g. 2025-01-31 or 2025-01-31T09:00)"
        ) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _silence_stdout() -> None:
    import contextlib
    import os

    # No real file descriptor (tests): nothing is left to flush then.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): ask for one
        raise CliError("cannot tell who you are; pass --by NAME") from None


if __name__ == "__main__":
    sys.exit(main())
