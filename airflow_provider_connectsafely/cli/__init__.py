"""Command-line tools of the provider: ``connectsafely-ledger`` (see ``cli.ledger``).

Importing this package is cheap: SQLAlchemy and Airflow load only when a command runs.
"""
