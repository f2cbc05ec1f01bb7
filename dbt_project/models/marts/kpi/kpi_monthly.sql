{#- Incremental by month (dbt_project.yml): a daily run rebuilds the months whose sums in
    int_kpi_month_totals changed and keeps the others. #}
{%- set months = kpi_months_written(ref('int_kpi_month_totals'), this) %}
-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- Every KPI of kpis.md by month (Asia/Shanghai calendar month of the event time), region and,
-- where the KPI is per channel, channel; the province is region ALL. numerator and denominator
-- travel with each value so that a BI tool can re-aggregate without re-deriving it. A ratio whose
-- denominator is zero has no row; counts and amounts have a row for every region with records in
-- the month (zero when nothing counted). The sums they are made of come from
-- int_kpi_month_totals, which a daily run updates by difference.
with totals as (
    select * from {{ ref('int_kpi_month_totals') }}
    where {{ in_rebuilt_months('month', months) }}
),

channels as (
    select * from {{ ref('dim_channel') }}
),

by_channel as (
    -- the sums of records by month, region and channel: the groups with records (a sum that the
    -- records it counted left is 0, not gone)
    select
        month,
        region_code,
        channel,
        coalesce(sum(amount) filter (where measure = 'all_transactions'), 0) as all_transactions,
        coalesce(sum(amount) filter (where measure = 'echannel_transactions'), 0) as echannel_transactions,
        coalesce(
            sum(amount) filter (where measure = 'echannel_transaction_attempts'), 0
        ) as echannel_transaction_attempts,
        coalesce(
            sum(amount) filter (where measure = 'echannel_transaction_successes'), 0
        ) as echannel_transaction_successes,
        coalesce(sum(amount) filter (where measure = 'epayment_amount'), 0) as epayment_amount,
        coalesce(sum(amount) filter (where measure = 'plan_campaigns'), 0) as plan_campaigns,
        coalesce(sum(amount) filter (where measure = 'online_number_opens'), 0) as online_number_opens,
        coalesce(sum(amount) filter (where measure = 'surveys'), 0) as surveys,
        coalesce(sum(amount) filter (where measure = 'satisfied_surveys'), 0) as satisfied_surveys,
        coalesce(sum(amount) filter (where measure = 'offloadable'), 0) as offloadable,
        coalesce(sum(amount) filter (where measure = 'offloaded'), 0) as offloaded,
        coalesce(sum(amount) filter (where measure = 'store_orders'), 0) as store_orders,
        coalesce(sum(amount) filter (where measure = 'store_successes'), 0) as store_successes,
        coalesce(sum(amount) filter (where measure = 'store_pickups'), 0) as store_pickups,
        coalesce(sum(amount) filter (where measure = 'sales_amount'), 0) as sales_amount,
        coalesce(sum(amount) filter (where measure = 'complaints'), 0) as complaints,
        coalesce(sum(amount) filter (where measure = 'registrations'), 0) as registrations,
        coalesce(sum(amount) filter (where measure = 'attempts'), 0) as attempts,
        coalesce(sum(amount) filter (where measure = 'identified_attempts'), 0) as identified_attempts
    from totals
    where channel <> ''
    group by
        month,
        region_code,
        channel
    having sum(amount) filter (where measure = 'records') > 0
),

by_region as (
    -- the regions with records in each month: every count and amount has a row for them
    select
        month,
        region_code,
        sum(all_transactions) as all_transactions,
        sum(echannel_transactions) as echannel_transactions,
        sum(echannel_transaction_attempts) as echannel_transaction_attempts,
        sum(echannel_transaction_successes) as echannel_transaction_successes,
        sum(epayment_amount) as epayment_amount,
        sum(plan_campaigns) as plan_campaigns,
        sum(online_number_opens) as online_number_opens,
        sum(surveys) as surveys,
        sum(satisfied_surveys) as satisfied_surveys,
        sum(offloadable) as offloadable,
        sum(offloaded) as offloaded,
        sum(store_successes) as store_successes,
        sum(store_pickups) as store_pickups,
        sum(complaints) as complaints,
        sum(registrations) as registrations,
        sum(attempts) as attempts,
        sum(identified_attempts) as identified_attempts
    from by_channel
    group by
        month,
        region_code
),

by_entity as (
    -- the sums of sessions, app user-days and users, customers and hotline calls by month and
    -- region
    select
        month,
        region_code,
        coalesce(sum(amount) filter (where measure = 'web_sessions'), 0) as web_sessions,
        coalesce(sum(amount) filter (where measure = 'web_sessions_converted'), 0) as web_sessions_converted,
        coalesce(sum(amount) filter (where measure = 'app_user_days'), 0) as app_user_days,
        coalesce(
            sum(amount) filter (where measure = 'app_user_days_converted'), 0
        ) as app_user_days_converted,
        coalesce(sum(amount) filter (where measure = 'app_users'), 0) as app_users,
        coalesce(sum(amount) filter (where measure = 'active_customers'), 0) as active_customers,
        coalesce(sum(amount) filter (where measure = 'echannel_active_users'), 0) as echannel_active_users,
        coalesce(sum(amount) filter (where measure = 'hotline_calls'), 0) as hotline_calls,
        coalesce(
            sum(amount) filter (where measure = 'hotline_answered_within_20s'), 0
        ) as hotline_answered_within_20s,
        coalesce(sum(amount) filter (where measure = 'hotline_abandoned'), 0) as hotline_abandoned,
        coalesce(sum(amount) filter (where measure = 'hotline_handle_seconds'), 0) as hotline_handle_seconds,
        coalesce(sum(amount) filter (where measure = 'hotline_handled_calls'), 0) as hotline_handled_calls
    from totals
    where channel in ('', 'WEB', 'APP')
    group by
        month,
        region_code
),

active_counts as (
    -- ACTIVE in the CRM version that held at the end of a month with records, by its region
    select
        month,
        region_code,
        active_customers
    from by_entity
    where
        active_customers > 0
        and month in (select by_region.month from by_region)
),

measures as (
    -- (month, region, kpi, channel, numerator, denominator); denominator null for counts/amounts
    select
        month,
        region_code,
        'echannel_txn_share' as kpi_code,
        null::text as channel,
        echannel_transactions::numeric as numerator,
        all_transactions::numeric as denominator
    from by_region

    union all

    select
        active_counts.month,
        active_counts.region_code,
        'echannel_penetration',
        null,
        by_entity.echannel_active_users,
        active_counts.active_customers
    from active_counts
    inner join by_entity
        on
            active_counts.month = by_entity.month
            and active_counts.region_code = by_entity.region_code

    union all

    select
        month,
        region_code,
        'echannel_success_rate',
        null,
        echannel_transaction_successes,
        echannel_transaction_attempts
    from by_region

    union all

    select
        month,
        region_code,
        'epayment_amount',
        null,
        coalesce(epayment_amount, 0)::numeric(16, 2),
        null
    from by_region

    union all

    select
        month,
        region_code,
        'plan_campaign_volume',
        null,
        plan_campaigns,
        null
    from by_region

    union all

    select
        month,
        region_code,
        'online_number_open_volume',
        null,
        online_number_opens,
        null
    from by_region

    union all

    select
        month,
        region_code,
        'echannel_satisfaction',
        null,
        satisfied_surveys,
        surveys
    from by_region

    union all

    select
        by_region.month,
        by_region.region_code,
        'channel_volume_share',
        channels.channel,
        coalesce(by_channel.echannel_transactions, 0),
        by_region.echannel_transactions
    from by_region
    cross join channels
    left join by_channel
        on
            by_region.month = by_channel.month
            and by_region.region_code = by_channel.region_code
            and channels.channel = by_channel.channel
    where channels.is_echannel

    union all

    select
        month,
        region_code,
        'self_service_offload_rate',
        null,
        offloaded,
        offloadable
    from by_region

    union all

    select
        month,
        region_code,
        'conversion_rate',
        'WEB',
        web_sessions_converted,
        web_sessions
    from by_entity
    where web_sessions > 0

    union all

    select
        month,
        region_code,
        'conversion_rate',
        'APP',
        app_user_days_converted,
        app_user_days
    from by_entity
    where app_user_days > 0

    union all

    select
        month,
        region_code,
        'conversion_rate',
        channel,
        store_successes,
        store_orders
    from by_channel
    where store_orders > 0

    union all

    select
        by_region.month,
        by_region.region_code,
        'online_sales_amount',
        channels.channel,
        coalesce(by_channel.sales_amount, 0)::numeric(16, 2),
        null
    from by_region
    cross join channels
    left join by_channel
        on
            by_region.month = by_channel.month
            and by_region.region_code = by_channel.region_code
            and channels.channel = by_channel.channel
    where channels.channel in ('WEB', 'APP') or channels.is_store

    union all

    select
        month,
        region_code,
        'o2o_pickup_share',
        null,
        store_pickups,
        store_successes
    from by_region

    union all

    select
        month,
        region_code,
        'hotline_service_level',
        null,
        hotline_answered_within_20s,
        hotline_calls
    from by_entity
    where hotline_calls > 0

    union all

    select
        month,
        region_code,
        'hotline_abandon_rate',
        null,
        hotline_abandoned,
        hotline_calls
    from by_entity
    where hotline_calls > 0

    union all

    select
        month,
        region_code,
        'hotline_avg_handle_seconds',
        null,
        hotline_handle_seconds,
        hotline_handled_calls
    from by_entity
    where hotline_handled_calls > 0

    union all

    -- every complaint counts in the province, also one from a region without active customers
    -- (UNKNOWN: denominator 0, so no row of its own); a region with active customers and no
    -- records gets its 0
    select
        coalesce(by_region.month, active_counts.month),
        coalesce(by_region.region_code, active_counts.region_code),
        'complaints_per_10k',
        null,
        10000 * coalesce(by_region.complaints, 0),
        coalesce(active_counts.active_customers, 0)
    from by_region
    full outer join active_counts
        on
            by_region.month = active_counts.month
            and by_region.region_code = active_counts.region_code

    union all

    select
        month,
        region_code,
        'new_registrations',
        null,
        registrations,
        null
    from by_region

    union all

    select
        by_region.month,
        by_region.region_code,
        'app_mau',
        null,
        coalesce(by_entity.app_users, 0),
        null
    from by_region
    left join by_entity
        on
            by_region.month = by_entity.month
            and by_region.region_code = by_entity.region_code

    union all

    select
        month,
        region_code,
        'identity_match_rate',
        null,
        identified_attempts,
        attempts
    from by_region
),

with_province as (
    select * from measures
    union all
    select
        month,
        'ALL' as region_code,
        kpi_code,
        channel,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from measures
    group by month, kpi_code, channel
),

final as (
    select
        month,
        region_code,
        kpi_code,
        channel,
        case
            when denominator is null then numerator
            else round(numerator / denominator, 6)
        end as value,
        numerator,
        denominator,
        now() as dbt_updated_at
    from with_province
    where denominator is null or denominator > 0
)

select * from final
