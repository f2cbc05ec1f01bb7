"""Channel data warehouse: ingestion of the channel exports, dbt mart, KPIs and report."""

__version__ = "0.1.0"
