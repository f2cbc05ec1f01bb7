"""What the Airflow DAGs call, and the Airflow environment derived from the project settings."""
