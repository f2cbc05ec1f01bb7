# The Airflow image of the stack: Airflow 3 plus this project (loaders, DAGs, dbt project,
# expectations).
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
USER airflow
WORKDIR /opt/channel-dw
COPY --chown=airflow:root pyproject.toml requirements.lock ./
COPY --chown=airflow:root channel_dw ./channel_dw
RUN pip install --no-cache-dir -c requirements.lock -e .
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root dbt_project ./dbt_project
COPY --chown=airflow:root sql ./sql
COPY --chown=airflow:root expectations ./expectations
