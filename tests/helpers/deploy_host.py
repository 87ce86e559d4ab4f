"""``[core] hostname_callable`` for the deployment tests' Celery workers: each worker reports
the host name in ``CONNECTSAFELY_DEPLOY_HOSTNAME``, as if it ran on a machine of its own, so
a task instance's ``hostname`` tells which worker ran it."""

from __future__ import annotations

import os

ENV = "CONNECTSAFELY_DEPLOY_HOSTNAME"


def hostname() -> str:
    return os.environ[ENV]
