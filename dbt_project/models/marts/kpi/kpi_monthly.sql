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
    select * from {{ ref('fct_interactions') }}
    where {{ in_rebuilt_months('occurred_date', months) }}
),

hotline_calls as (
    select * from {{ ref('fct_hotline_calls') }}
    where {{ in_rebuilt_months('call_date', months) }}
),

survey_scores as (
    select * from {{ ref('fct_survey_scores') }}
    where {{ in_rebuilt_months('scored_date', months) }}
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

records as (
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

region_months as (
    -- the regions with records in each month: every count and amount has a row for them
    select distinct
        occurred_month as month,
        region_code
    from records
),

active_customers as (
    -- ACTIVE in the CRM version that held at the end of the month, by that version's region
    {{ active_customers_at_month_end('region_months', 'history') }}
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

complaint_counts as (
    -- COMPLAINT attempts, and hotline calls flagged 是否投诉 that are not already such an attempt
    select
        occurred_month as month,
        region_code,
        count(*) filter (
            where (is_attempt and business_type = 'COMPLAINT') or is_complaint_flagged
        ) as complaints
    from records
    group by
        occurred_month,
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
    select
        occurred_month as month,
        app_uid,
        (array_agg(region_code order by occurred_at, interaction_key))[1] as region_code
    from records
    where source = 'app' and app_uid is not null
    group by
        occurred_month,
        app_uid
),

measures as (
    -- (month, region, kpi, channel, numerator, denominator); denominator null for counts/amounts
    select
        occurred_month as month,
        region_code,
        'echannel_txn_share' as kpi_code,
        null::text as channel,
        count(*) filter (where is_transaction and is_echannel)::numeric as numerator,
        count(*) filter (where is_transaction)::numeric as denominator
    from records
    group by occurred_month, region_code

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
        occurred_month,
        region_code,
        'echannel_success_rate',
        null,
        count(*) filter (where is_success),
        count(*)
    from records
    where is_attempt and is_echannel and is_transaction_type
    group by occurred_month, region_code

    union all

    select
        occurred_month,
        region_code,
        'epayment_amount',
        null,
        coalesce(sum(amount_yuan) filter (
            where is_success and is_echannel and business_type = 'PAYMENT' and not is_refunded
        ), 0)::numeric(16, 2),
        null
    from records
    group by occurred_month, region_code

    union all

    select
        occurred_month,
        region_code,
        'plan_campaign_volume',
        null,
        count(*) filter (
            where is_transaction and is_echannel and business_type in ('PLAN_CHANGE', 'CAMPAIGN')
        ),
        null
    from records
    group by occurred_month, region_code

    union all

    select
        occurred_month,
        region_code,
        'online_number_open_volume',
        null,
        count(*) filter (
            where is_transaction and business_type = 'NUMBER_OPEN'
            and (channel in ('WEB', 'APP') or channel like 'STORE\_%')
        ),
        null
    from records
    group by occurred_month, region_code

    union all

    select
        scored_month,
        region_code,
        'echannel_satisfaction',
        null,
        count(*) filter (where is_satisfied),
        count(*)
    from survey_scores
    group by scored_month, region_code

    union all

    select
        region_months.month,
        region_months.region_code,
        'channel_volume_share',
        channels.channel,
        count(records.interaction_key) filter (where records.channel = channels.channel),
        count(records.interaction_key)
    from region_months
    cross join channels
    left join records
        on
            region_months.month = records.occurred_month
            and region_months.region_code = records.region_code
            and records.is_transaction
            and records.is_echannel
    where channels.is_echannel
    group by region_months.month, region_months.region_code, channels.channel

    union all

    select
        occurred_month,
        region_code,
        'self_service_offload_rate',
        null,
        count(*) filter (where is_self_service),
        count(*)
    from records
    where is_attempt and is_success and is_offloadable
    group by occurred_month, region_code

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
        occurred_month,
        region_code,
        'conversion_rate',
        channel,
        count(*) filter (where is_success),
        count(*)
    from records
    where source = 'stores'
    group by occurred_month, region_code, channel

    union all

    select
        region_months.month,
        region_months.region_code,
        'online_sales_amount',
        channels.channel,
        coalesce(sum(records.amount_yuan), 0)::numeric(16, 2),
        null
    from region_months
    cross join channels
    left join records
        on
            region_months.month = records.occurred_month
            and region_months.region_code = records.region_code
            and channels.channel = records.channel
            and records.is_attempt
            and records.is_success
            and not records.is_refunded
    where channels.channel in ('WEB', 'APP') or channels.is_store
    group by region_months.month, region_months.region_code, channels.channel

    union all

    select
        occurred_month,
        region_code,
        'o2o_pickup_share',
        null,
        count(*) filter (where has_pickup_hall),
        count(*)
    from records
    where source = 'stores' and is_success
    group by occurred_month, region_code

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
        coalesce(complaint_counts.month, active_counts.month),
        coalesce(complaint_counts.region_code, active_counts.region_code),
        'complaints_per_10k',
        null,
        10000 * coalesce(complaint_counts.complaints, 0),
        coalesce(active_counts.active_customers, 0)
    from complaint_counts
    full outer join active_counts
        on
            complaint_counts.month = active_counts.month
            and complaint_counts.region_code = active_counts.region_code

    union all

    select
        occurred_month,
        region_code,
        'new_registrations',
        null,
        count(*) filter (where source in ('web', 'app') and event_type = 'register'),
        null
    from records
    group by occurred_month, region_code

    union all

    select
        region_months.month,
        region_months.region_code,
        'app_mau',
        null,
        count(app_users.app_uid),
        null
    from region_months
    left join app_users
        on
            region_months.month = app_users.month
            and region_months.region_code = app_users.region_code
    group by region_months.month, region_months.region_code

    union all

    select
        occurred_month,
        region_code,
        'identity_match_rate',
        null,
        count(*) filter (where is_identified),
        count(*)
    from records
    where is_attempt
    group by occurred_month, region_code
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
