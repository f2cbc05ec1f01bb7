-- A view over fct_interactions: it holds nothing of its own, so a daily build costs nothing and
-- it is never behind the facts (a table rebuilt every day grew with the history).
{{ config(materialized='view') }}
-- Satisfaction survey scores (1 to 5) from every channel that asks: the hotline's post-call
-- survey (满意度), the app's in-app rating and SMS `MYD<n>` replies. 4 and 5 count as satisfied.
--
-- One select, not the house's import and final CTEs: PostgreSQL plans the WITH of a view apart
-- from the query that reads the view, so nothing outside could use the facts' indexes through
-- it. The daily tests' `max(dbt_updated_at)` (macros/test_latest_rows.sql) read all 17 million
-- facts of a year that way (1 s for each of its four tests); now it reads one index entry.
select
    interaction_key as survey_key,
    source,
    channel,
    occurred_at as scored_at,
    occurred_date as scored_date,
    occurred_month as scored_month,
    survey_score as score,
    survey_score >= 4 as is_satisfied,
    survey_score <= 2 as is_dissatisfied,
    customer_id,
    is_identified,
    region_code,
    dbt_updated_at
from {{ ref('fct_interactions') }}
where survey_score is not null
