"""Sensors: wait in Airflow for something to happen on LinkedIn (see ``reply``)."""
