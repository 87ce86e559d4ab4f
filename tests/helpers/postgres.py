"""Debian's PostgreSQL cluster, which the ledger tests start (as root) when it is down."""

from __future__ import annotations

import shutil
import subprocess

PASSWORD = "connectsafely-tests"


def cluster() -> tuple[str, str, int, str] | None:
    """(version, name, port, status) of the first Debian PostgreSQL cluster, if any."""
    if not shutil.which("pg_lsclusters"):
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            return parts[0], parts[1], int(parts[2]), parts[3]
    return None
