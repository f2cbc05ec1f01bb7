{#- Incremental by customer (dbt_project.yml, macros/kpi_customers.sql): a daily run rebuilds the
    rows of the customers whose records or CRM versions changed, from the first month that changed
    for them (the score looks back three months: so do the counts read), the months of replaced
    deliveries and the new months whole; the pre-hook deletes the same rows first. #}
{{ config(pre_hook=["{{ delete_kpi_rows_to_rebuild(this, months_after=3) }}"]) }}
{%- set months = kpi_months_to_rebuild(this, months_after=3, by_customer=true) %}
{%- set customers = kpi_customers_to_rebuild(this) %}
{%- set held_months = kpi_table_months(this) %}
-- The customer channel-preference score of kpis.md (渠道偏好得分): for every active customer and
-- every self-service channel, each month, a score from 0 to 100 made of usage, potential,
-- frequency bonus and penalties. The point values come from the seed preference_points.
with
{%- if customers is not none %}
rebuilt_customers as (
    -- customers whose rows are rebuilt from from_month on
    {{ customers }}
),
{%- endif %}

-- identified records per customer, channel and month, with the complaints and low scores among
-- them (int_customer_channel_months), of the rows rebuilt and the three months before
usage as (
    {{ rows_to_rebuild(
        ref('int_customer_channel_months'), 'month', 'month', months, customers, months_before=3
    ) }}
),

history as (
    select * from {{ ref('int_customer_history') }}
),

channels as (
    select * from {{ ref('dim_channel') }}
),

points as (
    select * from {{ ref('preference_points') }}
),

settings as (
    select
        max(points) filter (where rule = 'usage_per_record') as usage_per_record,
        max(points) filter (where rule = 'usage_cap') as usage_cap,
        max(points) filter (where rule = 'potential') as potential,
        max(points) filter (where rule = 'frequency_bonus') as frequency_bonus,
        max(points) filter (where rule = 'complaint_penalty') as complaint_penalty,
        max(points) filter (where rule = 'low_score_penalty') as low_score_penalty
    from points
),

months as (
    -- the months rebuilt whole (every month on a full build): those with records
    select distinct interactions.occurred_month as month
    from {{ ref('fct_interactions') }} as interactions
    where {{ in_rebuilt_months('interactions.occurred_date', months) }}
),

active_in_months as (
    {{ active_customers_at_month_end('months', 'history', ['value_tier', 'is_high_value']) }}
),
{%- if customers is not none %}

customer_months as (
    -- a rebuilt customer's other months: those the table holds, from the first that changed for
    -- it (its active status is looked up for these alone, not for every customer in them)
    select
        held.month,
        rebuilt_customers.customer_id
    from rebuilt_customers
    inner join unnest({{ held_months }}) as held (month)
        on rebuilt_customers.from_month <= held.month
    where not {{ in_rebuilt_months('held.month', months) }}
),

active_customer_months as (
    {{ active_customers_at_month_end(
        'customer_months', 'history', ['value_tier', 'is_high_value'], customers=true
    ) }}
),
{%- endif %}

active_customers as (
    -- the rows rebuilt: every active customer of a rebuilt month, a rebuilt customer from its month
    select * from active_in_months
    {%- if customers is not none %}
    union all
    select * from active_customer_months
    {%- endif %}
),

self_service_channels as (
    select
        channel,
        cost_rank
    from channels
    where is_self_service
),

{#- Two ways to the same rows (tests/integration/test_incremental_lookback.py and
    test_incremental_history.py: a daily run's table equals a full refresh). A full build joins
    every active customer-month to the usage of that month and of each of the three before, four
    merge joins over the whole of int_customer_channel_months. A daily run rebuilds mostly the
    month that is new (all its customers on the first day of a month) and reads only that month
    and its three before: there one pass that counts each usage row towards its own month and the
    three after it is faster (2026-12-04, 12 months of 200,000 customers, 1 November: 11.8 s
    against 6.8 s; on the full build of the same history the other way round, 82 s against 112 s,
    the pass's aggregate of 8 million groups spilling to disk). -#}
{%- if months is not none %}

usage_by_month as (
    -- one row per month rebuilt, customer and channel: the usage of that month and whether the
    -- channel was used in each of the three months before (a usage row counts towards its own
    -- month and the three after it), for the active customers of the rows rebuilt
    select
        active_customers.month,
        usage.customer_id,
        usage.channel,
        max(usage.records) filter (where spread.months_before = 0) as records,
        max(usage.complaints) filter (where spread.months_before = 0) as complaints,
        max(usage.low_scores) filter (where spread.months_before = 0) as low_scores,
        max(usage.records) filter (where spread.months_before = 1) is not null
            as used_1_month_before,
        max(usage.records) filter (where spread.months_before = 2) is not null
            as used_2_months_before,
        max(usage.records) filter (where spread.months_before = 3) is not null
            as used_3_months_before
    from usage
    cross join generate_series(0, 3) as spread (months_before)
    inner join active_customers
        on
            usage.customer_id = active_customers.customer_id
            and (usage.month + make_interval(months => spread.months_before))::date
            = active_customers.month
    group by
        active_customers.month,
        usage.customer_id,
        usage.channel
),
{%- endif %}

customer_channels as (
    select
        active_customers.month,
        active_customers.customer_id,
        active_customers.region_code,
        active_customers.value_tier,
        active_customers.is_high_value,
        self_service_channels.channel,
        self_service_channels.cost_rank,
        coalesce(used.records, 0) as records_in_month,
        coalesce(used.complaints, 0) as complaints_in_month,
        coalesce(used.low_scores, 0) as low_scores_in_month,
        used.records is not null as used_this_month,
        -- noqa: disable=LT02
        -- (SQLFluff does not lay out a select list whose columns Jinja chooses)
        {%- if months is none %}
        one_before.records is not null as used_1_month_before,
        two_before.records is not null as used_2_months_before,
        three_before.records is not null as used_3_months_before
        {%- else %}
        coalesce(used.used_1_month_before, false) as used_1_month_before,
        coalesce(used.used_2_months_before, false) as used_2_months_before,
        coalesce(used.used_3_months_before, false) as used_3_months_before
        {%- endif %}
    -- noqa: enable=LT02
    from active_customers
    cross join self_service_channels
    left join {{ 'usage' if months is none else 'usage_by_month' }} as used
        on
            active_customers.customer_id = used.customer_id
            and self_service_channels.channel = used.channel
            and active_customers.month = used.month
    {%- if months is none %}
    left join usage as one_before
        on
            active_customers.customer_id = one_before.customer_id
            and self_service_channels.channel = one_before.channel
            and (active_customers.month - interval '1 month')::date = one_before.month
    left join usage as two_before
        on
            active_customers.customer_id = two_before.customer_id
            and self_service_channels.channel = two_before.channel
            and (active_customers.month - interval '2 months')::date = two_before.month
    left join usage as three_before
        on
            active_customers.customer_id = three_before.customer_id
            and self_service_channels.channel = three_before.channel
            and (active_customers.month - interval '3 months')::date = three_before.month
    {%- endif %}
),

points_given as (
    select
        customer_channels.*,
        least(settings.usage_cap, settings.usage_per_record * customer_channels.records_in_month)
            as usage_points,
        case
            when
                not customer_channels.used_this_month
                and (
                    customer_channels.used_1_month_before
                    or customer_channels.used_2_months_before
                    or customer_channels.used_3_months_before
                )
                then settings.potential
            else 0
        end as potential_points,
        case
            when
                customer_channels.used_this_month
                and customer_channels.used_1_month_before
                and customer_channels.used_2_months_before
                then settings.frequency_bonus
            else 0
        end as frequency_points,
        settings.complaint_penalty * customer_channels.complaints_in_month
        + settings.low_score_penalty * customer_channels.low_scores_in_month as penalty_points
    from customer_channels
    cross join settings
),

final as (
    select
        month,
        customer_id,
        channel,
        region_code,
        value_tier,
        is_high_value,
        cost_rank,
        records_in_month,
        complaints_in_month,
        low_scores_in_month,
        usage_points,
        potential_points,
        frequency_points,
        penalty_points,
        greatest(
            0, least(100, usage_points + potential_points + frequency_points - penalty_points)
        ) as preference_score,
        now() as dbt_updated_at
    from points_given
)

select * from final
