"""What an Airflow task's log shows, captured during ``dag.test()``.

``dag.test()`` runs each task in this process and writes its log to the console rather than
to files under ``$AIRFLOW_HOME/logs``: structlog's writers (the task runner, hooks and
operators, with tracebacks rendered) and the root logging handler (modules that log with the
standard library). Each writer keeps the ``sys.stdout`` it first saw, which under pytest's
capturing may be a stream no fixture can read, so this tees both at the source, in the order
they are written, keeping exactly the rendered text.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

_WRITER_METHODS = (
    "msg",
    "log",
    "debug",
    "info",
    "warn",
    "warning",
    "err",
    "error",
    "critical",
    "exception",
    "fatal",
    "failure",
)
_STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_task_logs() -> Iterator[list[str]]:
    """Collect every log line written while the block runs (rendered, tracebacks included)."""
    lines: list[str] = []
    restore: list[tuple[type, str, Any]] = []
    for writer in (structlog.WriteLogger, structlog.PrintLogger, structlog.BytesLogger):
        for name in _WRITER_METHODS:
            original = writer.__dict__.get(name)
            if original is None:
                continue

            def tee(self: Any, message: Any, _original: Any = original) -> Any:
                lines.append(
                    message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
                )
                return _original(self, message)

            setattr(writer, name, tee)
            restore.append((writer, name, original))
    handler = _ListHandler(lines)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for writer, name, original in restore:
            setattr(writer, name, original)


def by_task(lines: list[str]) -> dict[str, str]:
    """The captured lines cut into each task's log (all its tries, all its map indexes)."""
    logs: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        match = _STARTING.search(line)
        if match:
            current = match.group(1)
        if current is not None:
            logs[current] = logs.get(current, "") + line + "\n"
    return logs


def files_containing(root: Path, needle: str, *, skip: tuple[str, ...] = ("dags",)) -> list[Path]:
    """Every file under ``root`` (the metadata database, task log files, ledgers...) whose
    bytes contain ``needle``, in UTF-8 or as SQLite might store it."""
    wanted = needle.encode()
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.relative_to(root).parts[0] in skip:
            continue
        with contextlib.suppress(OSError):
            if wanted in path.read_bytes():
                found.append(path)
    return found
