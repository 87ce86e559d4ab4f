"""Alembic revisions of the send ledger (a package only so that wheels ship them)."""
