{#- Incremental by month (dbt_project.yml, macros/kpi_months.sql): a daily run rebuilds the
    months whose records changed and keeps the others. #}
{%- set months = kpi_months_to_rebuild(this) %}
-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- Every KPI of kpis.md by month (Asia/Shanghai calendar month of the event time), region and,
-- where the KPI is per channel, channel; the province is region ALL. numerator and denominator
-- travel with each value so that a BI tool can re-aggregate without re-deriving it. A ratio whose
-- denominator is zero has no row; counts and amounts have a row for every region with records in
-- the month (zero when nothing counted).
with interactions as (
    -- the columns of the facts the KPIs need (the satisfaction surveys are the records with a
    -- score, fct_survey_scores being a view of them)
    select
        interaction_key,
        source,
        channel,
        event_type,
        business_type,
        occurred_at,
        occurred_date,
        occurred_month,
        is_attempt,
        is_success,
        is_transaction,
        amount_yuan,
        is_refunded,
        has_pickup_hall,
        survey_score,
        is_complaint_flagged,
        customer_id,
        is_identified,
        region_code,
        session_id,
        app_uid
    from {{ ref('fct_interactions') }}
    where {{ in_rebuilt_months('occurred_date', months) }}
),

hotline_calls as (
    select * from {{ ref('fct_hotline_calls') }}
    where {{ in_rebuilt_months('call_date', months) }}
),

history as (
    select * from {{ ref('int_customer_history') }}
),

channels as (
    select * from {{ ref('dim_channel') }}
),

business_types as (
    select * from {{ ref('dim_business_type') }}
),

records as not materialized (
    -- read by four aggregations, each a scan of the facts: materialised, the 17 million records of
    -- a year went to temporary files (2 GB) and were read back four times (the 13 months of the
    -- 12-month bench: 61.4 s, 48.3 s inlined; a larger work_mem changed nothing)
    select
        interactions.*,
        channels.is_echannel,
        channels.is_self_service,
        coalesce(business_types.is_transaction, false) as is_transaction_type,
        coalesce(business_types.is_offloadable, false) as is_offloadable
    from interactions
    inner join channels
        on interactions.channel = channels.channel
    left join business_types
        on interactions.business_type = business_types.business_type
),

by_channel as (
    -- every count and amount of the records in one pass, by month, region and channel; the
    -- per-region measures below add the channels up (one pass instead of one per KPI: the month's
    -- records are the bulk of this model's time)
    select
        occurred_month as month,
        region_code,
        channel,
        count(*) filter (where is_transaction) as all_transactions,
        count(*) filter (where is_transaction and is_echannel) as echannel_transactions,
        count(*) filter (
            where is_attempt and is_echannel and is_transaction_type
        ) as echannel_transaction_attempts,
        count(*) filter (
            where is_attempt and is_echannel and is_transaction_type and is_success
        ) as echannel_transaction_successes,
        sum(amount_yuan) filter (
            where is_success and is_echannel and business_type = 'PAYMENT' and not is_refunded
        ) as epayment_amount,
        count(*) filter (
            where is_transaction and is_echannel and business_type in ('PLAN_CHANGE', 'CAMPAIGN')
        ) as plan_campaigns,
        count(*) filter (
            where is_transaction and business_type = 'NUMBER_OPEN'
            and (channel in ('WEB', 'APP') or channel like 'STORE\_%')
        ) as online_number_opens,
        count(*) filter (where survey_score is not null) as surveys,
        count(*) filter (where survey_score >= 4) as satisfied_surveys,
        count(*) filter (where is_attempt and is_success and is_offloadable) as offloadable,
        count(*) filter (
            where is_attempt and is_success and is_offloadable and is_self_service
        ) as offloaded,
        count(*) filter (where source = 'stores') as store_orders,
        count(*) filter (where source = 'stores' and is_success) as store_successes,
        count(*) filter (
            where source = 'stores' and is_success and has_pickup_hall
        ) as store_pickups,
        sum(amount_yuan) filter (
            where is_attempt and is_success and not is_refunded
        ) as sales_amount,
        -- COMPLAINT attempts, and hotline calls flagged 是否投诉 that are not already such an attempt
        count(*) filter (
            where (is_attempt and business_type = 'COMPLAINT') or is_complaint_flagged
        ) as complaints,
        count(*) filter (
            where source in ('web', 'app') and event_type = 'register'
        ) as registrations,
        count(*) filter (where is_attempt) as attempts,
        count(*) filter (where is_attempt and is_identified) as identified_attempts
    from records
    group by
        occurred_month,
        region_code,
        channel
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

active_customers as (
    -- ACTIVE in the CRM version that held at the end of the month, by that version's region
    {{ active_customers_at_month_end('by_region', 'history') }}
),

active_counts as (
    select
        month,
        region_code,
        count(*) as active_customers
    from active_customers
    group by
        month,
        region_code
),

echannel_users as (
    select distinct
        occurred_month as month,
        customer_id
    from records
    where is_echannel and is_identified
),

web_sessions as (
    -- a session belongs to the month and region of its first record in that month
    select
        occurred_month as month,
        session_id,
        (array_agg(region_code order by occurred_at, interaction_key))[1] as region_code,
        bool_or(is_transaction) as has_transaction
    from records
    where source = 'web' and session_id is not null
    group by
        occurred_month,
        session_id
),

app_user_days as (
    select
        occurred_month as month,
        app_uid,
        occurred_date,
        (array_agg(region_code order by occurred_at, interaction_key))[1] as region_code,
        bool_or(is_transaction) as has_transaction
    from records
    where source = 'app' and app_uid is not null
    group by
        occurred_month,
        app_uid,
        occurred_date
),

app_users as (
    -- a user's region in the month is that of their first record in it: the first record of
    -- their first day
    select distinct on (month, app_uid)
        month,
        app_uid,
        region_code
    from app_user_days
    order by
        month,
        app_uid,
        occurred_date
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
        count(echannel_users.customer_id),
        max(active_counts.active_customers)
    from active_counts
    inner join active_customers
        on
            active_counts.month = active_customers.month
            and active_counts.region_code = active_customers.region_code
    left join echannel_users
        on
            active_customers.month = echannel_users.month
            and active_customers.customer_id = echannel_users.customer_id
    group by active_counts.month, active_counts.region_code

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
        count(*) filter (where has_transaction),
        count(*)
    from web_sessions
    group by month, region_code

    union all

    select
        month,
        region_code,
        'conversion_rate',
        'APP',
        count(*) filter (where has_transaction),
        count(*)
    from app_user_days
    group by month, region_code

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
        call_month,
        region_code,
        'hotline_service_level',
        null,
        count(*) filter (where is_answered_within_20s),
        count(*)
    from hotline_calls
    where is_agent_call or is_abandoned
    group by call_month, region_code

    union all

    select
        call_month,
        region_code,
        'hotline_abandon_rate',
        null,
        count(*) filter (where is_abandoned),
        count(*)
    from hotline_calls
    where is_agent_call or is_abandoned
    group by call_month, region_code

    union all

    select
        call_month,
        region_code,
        'hotline_avg_handle_seconds',
        null,
        sum(handle_seconds),
        count(handle_seconds)
    from hotline_calls
    where is_agent_call
    group by call_month, region_code

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
        count(app_users.app_uid),
        null
    from by_region
    left join app_users
        on
            by_region.month = app_users.month
            and by_region.region_code = app_users.region_code
    group by by_region.month, by_region.region_code

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
