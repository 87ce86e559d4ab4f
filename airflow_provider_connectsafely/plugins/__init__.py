"""The ConnectSafely page in the Airflow UI: an Airflow plugin (``ui``) that mounts a FastAPI
app (``api``) in the API server. The app reads the send ledger (``data``), never migrates it,
and serves one HTML page (``static/``) shown in the UI's navigation.

Importing ``ui`` is cheap (every Airflow process loads plugins): FastAPI and the API server's
security code load on the first request.
"""

from __future__ import annotations

#: Where the app is mounted in the API server (and the page's address under it).
MOUNT = "/connectsafely"
