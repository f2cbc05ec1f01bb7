# The Airflow image of the stack: Airflow 3 plus this project (loaders, DAGs, dbt project,
# expectations).
FROM apache/airflow:3.3.2-python3.11
USER root
# gcc and libc6-dev: the readers' C pass (channel_dw/sources/_compiled*.c) is built with them below
RUN apt-get update && apt-get install -y --no-install-recommends curl gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
USER airflow
WORKDIR /opt/channel-dw
COPY --chown=airflow:root pyproject.toml requirements.lock ./
COPY --chown=airflow:root channel_dw ./channel_dw
RUN pip install --no-cache-dir -c requirements.lock -e .
# Built here, once, not by the first load in a worker (without it the readers take their slower
# columnar path, with the same rows and rejections).
RUN python -c "from channel_dw.sources import _compiled; assert _compiled.available(), 'no C pass'"
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root dbt_project ./dbt_project
COPY --chown=airflow:root sql ./sql
COPY --chown=airflow:root expectations ./expectations
