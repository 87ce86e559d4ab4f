"""Triggers that run in Airflow's triggerer: ``replies`` (behind the reply sensor),
``reply_events`` (an ``AssetWatcher`` trigger, one event per reply), and what they share."""
