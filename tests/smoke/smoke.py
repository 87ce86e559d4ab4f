"""Smoke test of the installed wheel, run by `make smoke` from a folder outside the checkout
with a fresh virtualenv where the provider was installed from its wheel (not editable).

Checks what a packaging slip would break: the package and its migration scripts are the
installed ones, a send goes through the emulator, and a 0.1 ledger upgrades in place.
Plain asserts, no pytest: this runs without the test extras.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    import airflow_provider_connectsafely as package

    installed = Path(package.__file__).resolve()
    assert "site-packages" in installed.parts, f"not the installed wheel: {installed}"
    migrations = installed.parent / "ledger" / "migrations"
    scripts = sorted(p.name for p in (migrations / "versions").glob("0*.py"))
    assert scripts and (migrations / "env.py").exists(), (
        f"migration scripts missing from the wheel: {scripts}"
    )

    from airflow_provider_connectsafely.emulator import EmulatorServer
    from airflow_provider_connectsafely.ledger.migrations import HEAD
    from airflow_provider_connectsafely.ledger.store import SendLedger

    with EmulatorServer(api_key="smoke-key") as emulator:
        os.environ["AIRFLOW_CONN_CONNECTSAFELY_DEFAULT"] = (
            f'{{"conn_type": "connectsafely", "host": "{emulator.url}", "password": "smoke-key"}}'
        )
        from airflow_provider_connectsafely.hooks.connectsafely import ConnectSafelyHook

        answer = ConnectSafelyHook().send_message(message="Hello from the wheel", recipient_profile_id="ada")
        assert answer.get("success") is True, answer
        assert [m["message"] for m in emulator.messages()] == ["Hello from the wheel"]

    path = HERE / "ledger-0.1.sqlite"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript((HERE / "ledger_0_1.sqlite.sql").read_text())
        rows_before = db.execute("SELECT count(*) FROM connectsafely_sends").fetchone()[0]
    # The installed command, as an operator runs it after installing a new release.
    command = Path(sys.executable).with_name("connectsafely-ledger")
    url = f"sqlite:///{path}"
    version = subprocess.run([command, "version", "--url", url], capture_output=True, text=True, check=True)
    assert "schema:   0001" in version.stdout, version.stdout
    upgraded = subprocess.run([command, "upgrade", "--url", url], capture_output=True, text=True, check=True)
    assert f"-> {HEAD}" in upgraded.stdout, upgraded.stdout + upgraded.stderr
    ledger = SendLedger.sqlite(path)
    ledger.ensure_schema()
    assert ledger.schema_version() == HEAD, ledger.schema_version()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM connectsafely_sends").fetchone()[0] == rows_before
    ledger.close()
    print(f"smoke: OK ({installed.parent}; {len(scripts)} migrations; {rows_before} rows upgraded to {HEAD})")


if __name__ == "__main__":
    sys.exit(main())
