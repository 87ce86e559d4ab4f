"""Alembic environment of the send ledger: migrates on the connection the ledger hands over,
inside the transaction (and lock) the ledger already holds."""

from alembic import context

from airflow_provider_connectsafely.ledger.migrations import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Migrate the send ledger with SendLedger.upgrade(), which passes its connection")
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
