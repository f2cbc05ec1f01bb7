{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ delete_kpi_rows_to_rebuild(this) }}"],
        indexes=[
            {'columns': ['customer_id', 'month', 'channel'], 'unique': true},
            {'columns': ['month']},
            {'columns': ['dbt_updated_at']},
        ],
    )
}}
{#- Incremental by customer, as the preference score that reads it (macros/kpi_customers.sql): a
    daily run rebuilds the rows of the customers whose records changed, from the first month that
    changed for them, and the months of replaced deliveries and the new months whole; the pre-hook
    deletes the same rows first. #}
{%- set months = kpi_months_to_rebuild(this, by_customer=true) %}
{%- set customers = kpi_customers_to_rebuild(this) %}
-- Each customer's identified records per channel and month, with the complaints and low survey
-- scores among them: what the preference score (customer_channel_preference) counts. The score
-- of a month looks three months back; it reads these few rows per customer and month, not the
-- customer's records of four months (on a year of history a day's active customers had a million).
with
{%- if customers is not none %}
rebuilt_customers as (
    -- customers whose rows are rebuilt from from_month on
    {{ customers }}
),
{%- endif %}

interactions as (
    {{ rows_to_rebuild(ref('fct_interactions'), 'occurred_date', 'occurred_month', months, customers) }}
),

final as (
    select
        occurred_month as month,
        customer_id,
        channel,
        count(*) as records,
        count(*) filter (
            where (is_attempt and business_type = 'COMPLAINT') or is_complaint_flagged
        ) as complaints,
        count(*) filter (where survey_score <= 2) as low_scores,
        now() as dbt_updated_at
    from interactions
    where is_identified
    group by
        occurred_month,
        customer_id,
        channel
)

select * from final
