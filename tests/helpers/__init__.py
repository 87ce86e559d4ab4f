"""Helpers shared by the test suites: import them as ``helpers.<module>`` (``tests/`` is on
pytest's ``pythonpath``). Nothing here runs at import time."""
