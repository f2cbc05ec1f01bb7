"""Sample data for the landing folder: seven sources' daily export files, awkward cases included.

:func:`generate_landing` writes a whole landing root (with redeliveries and ``manifest.json``);
the ``write_*`` functions write one big valid file of one source, for benchmarks.
"""

from channel_dw.generate.app import write_app_events
from channel_dw.generate.crm import write_crm_customers
from channel_dw.generate.halls import write_hall_txn
from channel_dw.generate.hotline import write_hotline_cdr
from channel_dw.generate.landing import generate_landing
from channel_dw.generate.plants import Planted
from channel_dw.generate.sizing import PROVINCE_RECORDS_PER_MONTH, customers_for_records
from channel_dw.generate.sms import write_sms_hall
from channel_dw.generate.stores import write_store_orders
from channel_dw.generate.summary import GenerationSummary, SourceCount
from channel_dw.generate.web import write_web_events

__all__ = [
    "PROVINCE_RECORDS_PER_MONTH",
    "GenerationSummary",
    "Planted",
    "SourceCount",
    "customers_for_records",
    "generate_landing",
    "write_app_events",
    "write_crm_customers",
    "write_hall_txn",
    "write_hotline_cdr",
    "write_sms_hall",
    "write_store_orders",
    "write_web_events",
]
