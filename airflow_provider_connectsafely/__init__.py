"""Apache Airflow provider for sending LinkedIn messages through the ConnectSafely API."""

__version__ = "0.2.0"
