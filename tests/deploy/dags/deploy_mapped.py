"""Deployment test DAGs: one mapped send per recipient, the recipients named by the run's
conf (``{"prefix": "celery", "count": 300}``).

``deploy_mapped`` has no retries, so any failure (say "database is locked") shows as a failed
task; ``deploy_mapped_retry`` retries once, as a deployment that loses a worker would.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_connectsafely.operators.messaging import SendLinkedInMessageOperator


@task
def recipients(dag_run=None) -> list[str]:
    conf = dag_run.conf if dag_run is not None else {}
    return [f"{conf['prefix']}-{number:03d}" for number in range(int(conf["count"]))]


for dag_id, retries in (("deploy_mapped", 0), ("deploy_mapped_retry", 1)):
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_tasks=64,
    ) as dag:
        SendLinkedInMessageOperator.partial(
            task_id="send",
            message="Hello {{ ti.map_index }}",
            daily_limit=0,
            retries=retries,
            retry_delay=timedelta(seconds=2),
        ).expand(recipient_profile_id=recipients())
    globals()[dag_id] = dag
