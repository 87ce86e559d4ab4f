"""Debian's ``redis-server`` as a Celery broker for tests: a free loopback port, a temporary
folder, no persistence, stopped by its own process group."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from helpers.airflow_server import free_port
from helpers.services import Service


class RedisServer:
    """``redis-server`` in the foreground as a :class:`~helpers.services.Service`."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: `make test-deploy` installs Debian's redis-server")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="connectsafely-redis-"))
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"]
        self.service = Service("redis", argv, env={"PATH": "/usr/bin:/bin"}, log_dir=self.dir)
        self.service.wait_until(self._pong, "answering PING", timeout=30, every=0.1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _pong(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
        return False

    def stop(self) -> None:
        self.service.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
