"""The daily run that opens a month scores it as a full refresh does, look-back months included.

The preference score of a month looks back three months (kpis.md: potential points for a channel
used in one of the three months before and not in this one; the frequency bonus for one used this
month and in each of the two before). A daily run builds the new month's rows of
customer_channel_preference on a path of its own, one pass over the usage of the month and its
three before (models/marts/kpi/customer_channel_preference.sql); a full build joins each month to
each look-back month. test_incremental_history.py compares the two over days that reach back one
month only; here four months of history stand behind the day that opens October, and every case
the look-back decides is among the rows compared.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import psycopg2
import pytest

from channel_dw.config import settings
from channel_dw.generate import generate_landing
from channel_dw.ingest.runner import ingest
from tests.integration.test_incremental_history import VARS, dump
from tests.integration.test_mart import dbt, use_database

pytestmark = [pytest.mark.integration, pytest.mark.minutes(3)]

FIRST_DAY = date(2026, 6, 25)  # a few days of June: July's rows look back to June
OCTOBER = date(2026, 10, 1)
PREFERENCE = ("marts", "customer_channel_preference", "month, customer_id, channel")
MODELS = ("+customer_channel_preference",)

# October's rows of active customers, by what the look-back decides for them: the months before
# October in which the customer used the channel (int_customer_channel_months), and whether it
# was used in October itself
LOOK_BACK_CASES = """
    select
        exists (
            select from intermediate.int_customer_channel_months as used
            where used.customer_id = score.customer_id and used.channel = score.channel
              and used.month = %(october)s
        ) as used_this_month,
        array(
            select used.month
            from intermediate.int_customer_channel_months as used
            where used.customer_id = score.customer_id and used.channel = score.channel
              and used.month >= (%(october)s - interval '3 months')::date
              and used.month < %(october)s
            order by used.month
        ) as months_before,
        score.potential_points > 0 as potential,
        score.frequency_points > 0 as frequent,
        count(*)
    from marts.customer_channel_preference as score
    where score.month = %(october)s
    group by 1, 2, 3, 4
"""


def test_the_day_that_opens_a_month_scores_its_look_back_as_a_full_refresh(
    make_database, tmp_path, monkeypatch
):
    use_database(monkeypatch, make_database(), tmp_path)
    s = settings()
    generate_landing(s.landing, FIRST_DAY, OCTOBER, customers=150, seed=37)
    assert ingest(s=s, end=OCTOBER - timedelta(days=1), run_checks=False).ok
    dbt("seed", *VARS)
    dbt("run", "-s", *MODELS, *VARS)
    assert ingest(s=s, run_checks=False).ok
    out = dbt("run", "-s", *MODELS, *VARS)
    assert "incremental model marts.customer_channel_preference" in out
    daily = dump(s.database_url, *PREFERENCE)

    with contextlib.closing(psycopg2.connect(s.database_url)) as conn, conn.cursor() as cur:
        # the daily run built October, the month it opened, and nothing of it came from before
        cur.execute(
            "select count(*) filter (where dbt_updated_at = (select max(dbt_updated_at)"
            " from marts.customer_channel_preference)), count(*)"
            " from marts.customer_channel_preference where month = %s",
            (OCTOBER,),
        )
        written, held = cur.fetchone()
        assert written == held > 0, (written, held)
        cur.execute(LOOK_BACK_CASES, {"october": OCTOBER})
        cases = {(row[0], len(row[1]), tuple(row[1][:1]), row[2], row[3]): row[4] for row in cur}
    july, august, september = date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)
    # each look-back month on its own earns the potential points: one, two and three months back
    for month in (september, august, july):
        assert cases.get((False, 1, (month,), True, False)), (month, cases)
    # used this month and in the two before: the frequency bonus
    assert any(n for (now, _, _, _, frequent), n in cases.items() if now and frequent), cases
    # used in none of them: nothing from the look-back
    assert cases.get((False, 0, (), False, False)), cases

    dbt("run", "--full-refresh", "-s", "customer_channel_preference", *VARS)
    assert dump(s.database_url, *PREFERENCE) == daily
