"""The BI tool on the mart: Apache Superset, installed, provisioned and run from this repository.

    from channel_dw.bi import up, down, status

    up()      # install (once), set up, import the "Channel KPIs" dashboard, start; says where
    status()  # running or not, the URL, the admin login
    down()    # stop the server

Superset runs in a virtual env of its own (``$DW_HOME/superset-venv``), keeps its state in the
database ``superset`` on the warehouse's server and reads the warehouse as ``superset_reader``, a
member of ``bi_reader`` (schema ``marts`` only). See ``channel_dw/bi/control.py`` for the steps
and ``channel_dw/bi/dashboard/`` for the dashboard, kept in Superset's import format.
From the command line: ``channel-dw bi up|down|status``.
"""

from channel_dw.bi.control import down, state, status, up

__all__ = ["down", "state", "status", "up"]
