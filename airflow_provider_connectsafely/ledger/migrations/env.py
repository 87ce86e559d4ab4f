"""Alembic environment of the send ledger.

Online: migrates on the connection the ledger hands over, inside the transaction (and lock)
the ledger already holds. Offline (``connectsafely-ledger upgrade --sql``): writes the SQL for
the ledger's dialect instead of running it; a data step that must read the existing rows reads
them on the read-only connection handed over as ``read_connection``.
"""

from alembic import context

from airflow_provider_connectsafely.ledger.migrations import VERSION_TABLE

attributes = context.config.attributes
if context.is_offline_mode():
    context.configure(
        dialect_name=attributes["dialect_name"],
        literal_binds=True,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
    )
else:
    connection = attributes.get("connection")
    if connection is None:
        raise RuntimeError("Migrate the send ledger with SendLedger.upgrade(), which passes its connection")
    context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
