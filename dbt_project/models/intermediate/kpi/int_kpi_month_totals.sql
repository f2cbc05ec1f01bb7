{{
    config(
        materialized='incremental',
        unique_key=['month', 'region_code', 'channel', 'measure'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "{{ forget_read_changes(ref('fct_interactions')) }}",
            "{{ forget_read_changes(ref('fct_hotline_calls')) }}",
        ],
        indexes=[
            {'columns': ['month', 'region_code', 'channel', 'measure'], 'unique': true},
            {'columns': ['dbt_updated_at']},
        ],
    )
}}
{#- The months rebuilt whole (macros/kpi_months.sql): none (all) on a full build, after a full
    build of a fact or when a fact has no change log; on a daily run the months of new CRM
    versions and those not held yet. Everything else arrives through the facts' change logs
    (macros/change_log.sql): the entries up to these, read before the run, deleted after it. #}
{%- set whole = kpi_months_to_rebuild(this) %}
{%- set interactions_read = change_log_newest(ref('fct_interactions')) %}
{%- set calls_read = change_log_newest(ref('fct_hotline_calls')) %}
{%- if interactions_read is none or calls_read is none %}
    {%- set whole = none %}
{%- endif %}
{%- set delta = whole is not none %}
{%- set record_columns = [
    'interaction_key', 'source', 'channel', 'event_type', 'business_type', 'occurred_at',
    'occurred_date', 'occurred_month', 'is_attempt', 'is_success', 'is_transaction', 'amount_yuan',
    'is_refunded', 'has_pickup_hall', 'survey_score', 'is_complaint_flagged', 'customer_id',
    'is_identified', 'identified_by', 'region_code', 'session_id', 'app_uid',
] %}
{%- set call_columns = [
    'call_id', 'call_date', 'call_month', 'region_code', 'is_agent_call', 'is_abandoned',
    'is_answered_within_20s', 'handle_seconds',
] %}
-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- The sums every KPI of kpi_monthly is made of, by month, region, channel ('' where a sum is not
-- per channel) and measure: counts and amounts of records, web sessions, app user-days and users,
-- active customers and those of them who used an e-channel, hotline calls. Each is a sum over
-- records or over entities (a session, an app user in a month, a customer in a month) of what each
-- contributes, so a daily run adds what the records the facts rewrote contribute now and takes
-- away what they contributed before (their rows as the change log kept them); for an entity, the
-- contribution of all its records now less that of its records before. The months rebuilt whole
-- are summed from every record.
with facts as not materialized (
    select * from {{ ref('fct_interactions') }}
),

calls as not materialized (
    select * from {{ ref('fct_hotline_calls') }}
),

channels as (
    select * from {{ ref('dim_channel') }}
),

business_types as (
    select * from {{ ref('dim_business_type') }}
),

history as (
    select * from {{ ref('int_customer_history') }}
),

whole_records as not materialized (
    select {{ record_columns | join(', ') }}
    from facts
    where {{ in_rebuilt_months('occurred_date', whole) }}
),

{% if delta %}
record_changes as (
    -- each key the facts wrote since this table was last built, as it was then: its first entry
    select distinct on (interaction_key) *
    from {{ change_log_relation(ref('fct_interactions')) }}
    where change_id <= {{ interactions_read }}
    order by interaction_key, change_id
),

old_records as (
    select {{ record_columns | join(', ') }}
    from record_changes
    where existed and not {{ in_rebuilt_months('occurred_date', whole) }}
),

new_records as (
    select {{ record_columns | join(', ') }}
    from facts
    where
        interaction_key = any(array(select record_changes.interaction_key from record_changes))
        and not {{ in_rebuilt_months('occurred_date', whole) }}
),
{% endif %}

signed_records as (
    select
        1 as sign,
        whole_records.*
    from whole_records
    {%- if delta %}
    union all
    select
        1,
        new_records.*
    from new_records
    union all
    select
        -1,
        old_records.*
    from old_records
    {%- endif %}
),

records as not materialized (
    select
        signed_records.*,
        channels.is_echannel,
        channels.is_self_service,
        coalesce(business_types.is_transaction, false) as is_transaction_type,
        coalesce(business_types.is_offloadable, false) as is_offloadable
    from signed_records
    inner join channels
        on signed_records.channel = channels.channel
    left join business_types
        on signed_records.business_type = business_types.business_type
),

by_channel as (
    -- every count and amount of kpis.md over records, in one pass (macros/kpi_month_measures.sql)
    {{ kpi_record_measures_by_channel('records') }}
),

record_sums as (
    {{ kpi_record_measures_as_rows('by_channel') }}
),

{#- The entities of the distinct counts, with their records now (sign 1) and, on a daily run, as
    this table last saw them (sign -1: their records now but the changed ones, and the changed
    ones' old rows). An entity a changed record belongs to is looked up through an index of the
    facts on its key. -#}
{%- for entity, key, where in [
    ('web_session', 'session_id', "source = 'web' and session_id is not null"),
    ('app_user', 'app_uid', "source = 'app' and app_uid is not null"),
    ('customer', 'customer_id', "is_identified and channel = any(array(select channels.channel from channels where channels.is_echannel))"),
] %}

{%- if delta %}

{{ entity }}_touched as (
    select distinct
        occurred_month,
        {{ key }}
    from (
        select * from new_records
        union all
        select * from old_records
    ) as changed
    where {{ where }}
),

{{ entity }}_now as (
    select {{ record_columns | join(', ') }}
    from facts
    where
        {{ key }} = any(array(select distinct touched.{{ key }} from {{ entity }}_touched as touched))
        and (occurred_month, {{ key }}) in (
            select
                touched.occurred_month,
                touched.{{ key }}
            from {{ entity }}_touched as touched
        )
        and {{ where }}
),
{%- endif %}

{{ entity }}_records as (
    select
        1 as sign,
        whole_records.*
    from whole_records
    where {{ where }}
    {%- if delta %}
    union all
    select
        1,
        {{ entity }}_now.*
    from {{ entity }}_now
    union all
    select
        -1,
        {{ entity }}_now.*
    from {{ entity }}_now
    where
        interaction_key not in (select record_changes.interaction_key from record_changes)
    union all
    select
        -1,
        old_records.*
    from old_records
    where {{ where }}
    {%- endif %}
),
{%- endfor %}

web_sessions as (
    -- a session belongs to the month and region of its first record in that month
    select
        sign,
        occurred_month as month,
        (array_agg(region_code order by occurred_at, interaction_key))[1] as region_code,
        bool_or(is_transaction) as has_transaction
    from web_session_records
    group by
        sign,
        occurred_month,
        session_id
),

app_user_days as (
    select
        sign,
        occurred_month as month,
        app_uid,
        occurred_date,
        (array_agg(region_code order by occurred_at, interaction_key))[1] as region_code,
        bool_or(is_transaction) as has_transaction
    from app_user_records
    group by
        sign,
        occurred_month,
        app_uid,
        occurred_date
),

app_users as (
    -- a user's region in the month is that of their first record in it: the first record of
    -- their first day
    select distinct on (sign, month, app_uid)
        sign,
        month,
        region_code
    from app_user_days
    order by
        sign,
        month,
        app_uid,
        occurred_date
),

echannel_users as (
    select distinct
        sign,
        occurred_month as month,
        customer_id
    from customer_records
),

active_months as (
    select distinct by_channel.month
    from by_channel
    where {{ in_rebuilt_months('by_channel.month', whole) }}
),

active_customers as (
    -- ACTIVE in the CRM version that held at the end of the month, by that version's region: in
    -- the months rebuilt whole every such customer, in the others those whose e-channel use
    -- may have changed
    {{ active_customers_at_month_end('active_months', 'history') }}
),

{% if delta %}
echannel_user_versions as (
    -- the CRM version at the month's end of the customers whose e-channel use may have changed
    {{ active_customers_at_month_end('echannel_users', 'history', customers=true) }}
),
{% endif %}

echannel_user_regions as (
    {%- if delta %}
    select
        echannel_users.sign,
        regions.month,
        regions.region_code
    from echannel_users
    inner join echannel_user_versions as regions
        on
            echannel_users.month = regions.month
            and echannel_users.customer_id = regions.customer_id
    {%- else %}
    select
        echannel_users.sign,
        active_customers.month,
        active_customers.region_code
    from echannel_users
    inner join active_customers
        on
            echannel_users.month = active_customers.month
            and echannel_users.customer_id = active_customers.customer_id
    {%- endif %}
),

{% if delta %}
call_changes as (
    select distinct on (call_id) *
    from {{ change_log_relation(ref('fct_hotline_calls')) }}
    where change_id <= {{ calls_read }}
    order by call_id, change_id
),
{% endif %}

signed_calls as (
    select
        1 as sign,
        {{ call_columns | join(', ') }}
    from calls
    where {{ in_rebuilt_months('call_date', whole) }}
    {%- if delta %}
    union all
    select
        1,
        {{ call_columns | join(', ') }}
    from calls
    where
        call_id = any(array(select call_changes.call_id from call_changes))
        and not {{ in_rebuilt_months('call_date', whole) }}
    union all
    select
        -1,
        {{ call_columns | join(', ') }}
    from call_changes
    where existed and not {{ in_rebuilt_months('call_date', whole) }}
    {%- endif %}
),

entity_sums as (
    select
        month,
        region_code,
        'WEB' as channel,
        'web_sessions' as measure,
        sum(sign) as amount
    from web_sessions
    group by month, region_code
    union all
    select
        month,
        region_code,
        'WEB',
        'web_sessions_converted',
        sum(sign) filter (where has_transaction)
    from web_sessions
    group by month, region_code
    union all
    select
        month,
        region_code,
        'APP',
        'app_user_days',
        sum(sign)
    from app_user_days
    group by month, region_code
    union all
    select
        month,
        region_code,
        'APP',
        'app_user_days_converted',
        sum(sign) filter (where has_transaction)
    from app_user_days
    group by month, region_code
    union all
    select
        month,
        region_code,
        'APP',
        'app_users',
        sum(sign)
    from app_users
    group by month, region_code
    union all
    select
        month,
        region_code,
        '',
        'active_customers',
        count(*)
    from active_customers
    group by month, region_code
    union all
    select
        month,
        region_code,
        '',
        'echannel_active_users',
        sum(sign)
    from echannel_user_regions
    group by month, region_code
    union all
    {{ kpi_hotline_call_measures('signed_calls') }}
),

summed as (
    select
        month,
        region_code,
        channel,
        measure,
        coalesce(sum(amount), 0) as amount
    from (
        select * from record_sums
        union all
        select * from entity_sums
    ) as sums
    group by
        month,
        region_code,
        channel,
        measure
),

{% if is_incremental() %}
final as (
    -- the months rebuilt whole (all of them when `whole` is none) replace what the table holds
    -- (a sum of theirs that is gone becomes 0); the others add the differences to it. Only the
    -- sums that change are written.
    select
        sum_keys.month,
        sum_keys.region_code,
        sum_keys.channel,
        sum_keys.measure,
        case
            when {{ in_rebuilt_months('sum_keys.month', whole) }} then 0
            else coalesce(held.amount, 0)
        end + coalesce(summed.amount, 0) as amount,
        held.amount as held_amount
    from (
        select
            changed_sums.month,
            changed_sums.region_code,
            changed_sums.channel,
            changed_sums.measure
        from summed as changed_sums
        union
        select
            month,
            region_code,
            channel,
            measure
        from {{ this }}
        where {{ in_rebuilt_months('month', whole) }}
    ) as sum_keys
    left join summed
        on
            sum_keys.month = summed.month
            and sum_keys.region_code = summed.region_code
            and sum_keys.channel = summed.channel
            and sum_keys.measure = summed.measure
    left join {{ this }} as held
        on
            sum_keys.month = held.month
            and sum_keys.region_code = held.region_code
            and sum_keys.channel = held.channel
            and sum_keys.measure = held.measure
)

select
    month,
    region_code,
    channel,
    measure,
    amount,
    now() as dbt_updated_at
from final
where amount is distinct from held_amount
{% else %}
final as (
    select
        month,
        region_code,
        channel,
        measure,
        amount,
        now() as dbt_updated_at
    from summed
    -- a sum of 0 needs no row (kpi_monthly reads a missing sum as 0)
    where amount <> 0
)

select * from final
{% endif %}
