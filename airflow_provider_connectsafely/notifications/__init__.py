"""Notifiers: send a LinkedIn message from a DAG or task callback."""
