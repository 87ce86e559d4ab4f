"""Long-running processes that tests start (Airflow components, Redis, the emulator): each
leads a session (a process group) of its own, its output in a log file, and is stopped through
that session only: nothing else on the machine is signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


class Service:
    """A command run in a new session (its own process group), output to ``<log_dir>/<name>.log``.

    :param name: what the process is, for logs and failure messages (e.g. ``scheduler``).
    :param argv: the command.
    :param env: its whole environment.
    :param log_dir: where its log file goes.
    """

    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv), env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        """Fail the test with the end of the log when the process has exited."""
        if not self.alive():
            pytest.fail(f"{self.name} exited ({self.proc.returncode}):\n{self.log()[-4000:]}", pytrace=False)

    def wait_until(self, probe: Callable[[], T], what: str, timeout: float = 90, every: float = 0.3) -> T:
        """Poll ``probe`` until it returns something true; fail if the process dies first."""
        return wait_until(probe, f"{self.name}: {what}", timeout, every, watch=[self])

    def kill(self) -> None:
        """SIGKILL every process of the session at once (a machine dying), and reap the leader."""
        self._kill_session()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, then SIGKILL whatever of the session is left after
        ``timeout`` (children that moved to groups of their own, or outlived the leader)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                # The leader's pid is the group's id (start_new_session).
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        self._kill_session()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._log.close()

    def session_pids(self) -> list[int]:
        """Every live process of the session this service leads: its process group, and also
        processes that moved to a group of their own (Airflow's task supervisor puts each task
        in a new group, so ``killpg`` alone would leave tasks of a killed worker running)."""
        return session_members(self.proc.pid)

    def _kill_session(self) -> None:
        for pid in self.session_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def session_members(sid: int) -> list[int]:
    """The pids whose session id is ``sid`` (read from ``/proc/<pid>/stat``)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Fields after the command name (which may hold spaces): state ppid pgrp session ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                members.append(int(stat.parent.name))
    return members


def wait_until(
    probe: Callable[[], T],
    what: str,
    timeout: float = 90,
    every: float = 0.5,
    *,
    watch: Sequence[Service] = (),
) -> T:
    """Poll ``probe`` until it returns something true and return that; fail the test after
    ``timeout`` seconds, or as soon as one of the ``watch`` processes has died."""
    deadline = time.monotonic() + timeout
    while True:
        for service in watch:
            service.check_alive()
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(every)
