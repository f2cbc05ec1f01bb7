-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- Every record of every channel in one shape, before identity: channel, business type, the
-- attempt and success flags of kpis.md, amounts, and the identifiers that may tie the record to a
-- customer (as identity-graph nodes). One row per de-duplicated record.
with web as (
    select * from {{ ref('stg_web__events') }}
),

app as (
    select * from {{ ref('stg_app__events') }}
),

hotline as (
    select * from {{ ref('stg_hotline__calls') }}
),

sms as (
    select * from {{ ref('stg_sms__messages') }}
),

stores as (
    select * from {{ ref('stg_stores__orders') }}
),

halls as (
    select * from {{ ref('stg_halls__transactions') }}
),

web_records as (
    select
        'web:' || event_id as interaction_key,
        'web' as source,
        event_id as source_record_id,
        'WEB' as channel,
        event_type,
        business_type,
        event_at as occurred_at,
        event_type = 'biz_result' as is_attempt,
        event_type = 'biz_result' and is_success as is_success,
        amount_yuan,
        false as is_refunded,
        false as has_pickup_hall,
        null::integer as survey_score,
        false as is_complaint_flagged,
        null::text as record_region_code,
        session_id,
        null::text as app_uid,
        'msisdn:' || msisdn as msisdn_node,
        'member:' || member_id as member_node,
        'web_visitor:' || visitor_id as observed_node,
        file_id,
        loaded_at
    from web
),

app_records as (
    select
        'app:' || event_id,
        'app',
        event_id,
        'APP',
        event_type,
        business_type,
        event_at,
        event_type = 'biz',
        event_type = 'biz' and is_success,
        amount_yuan,
        false,
        false,
        case when event_type = 'rate' then rating_score end,
        false,
        null::text,
        null::text,
        uid,
        'msisdn:' || msisdn,
        null::text,
        'app_uid:' || uid,
        file_id,
        loaded_at
    from app
),

hotline_records as (
    select
        'hotline:' || call_id,
        'hotline',
        call_id,
        channel,
        service_type,
        business_type,
        call_started_at,
        business_type is not null and not is_abandoned,
        business_type is not null and not is_abandoned and is_success,
        null::numeric(14, 2),
        false,
        false,
        satisfaction_score,
        is_complaint_flagged,
        region_code,
        null::text,
        null::text,
        'msisdn:' || msisdn,
        null::text,
        null::text,
        file_id,
        loaded_at
    from hotline
),

sms_records as (
    select
        'sms:' || msg_id,
        'sms',
        msg_id,
        'SMS',
        case when is_survey_reply then 'survey_reply' else 'command' end,
        business_type,
        received_at,
        not is_survey_reply,
        not is_survey_reply and is_success,
        amount_yuan,
        false,
        false,
        survey_score,
        false,
        region_code,
        null::text,
        null::text,
        'msisdn:' || msisdn,
        null::text,
        null::text,
        file_id,
        loaded_at
    from sms
),

store_records as (
    select
        'stores:' || order_key,
        'stores',
        order_key,
        channel,
        'order',
        business_type,
        created_at,
        true,
        is_success,
        amount_yuan,
        is_refunded,
        has_pickup_hall,
        null::integer,
        false,
        pickup_region_code,
        null::text,
        null::text,
        'msisdn:' || msisdn,
        'member:' || member_id,
        'store_account:' || platform || '/' || buyer_account,
        file_id,
        loaded_at
    from stores
),

hall_records as (
    select
        'halls:' || txn_id,
        'halls',
        txn_id,
        'HALL',
        case when is_pickup then 'pickup' else 'transaction' end,
        business_type,
        txn_at,
        not is_pickup,
        not is_pickup and is_success,
        amount_yuan,
        false,
        false,
        null::integer,
        false,
        region_code,
        null::text,
        null::text,
        'msisdn:' || msisdn,
        null::text,
        null::text,
        file_id,
        loaded_at
    from halls
),

unioned as (
    select * from web_records
    union all
    select * from app_records
    union all
    select * from hotline_records
    union all
    select * from sms_records
    union all
    select * from store_records
    union all
    select * from hall_records
),

final as (
    select
        *,
        (occurred_at at time zone 'Asia/Shanghai')::date as occurred_date
    from unioned
)

select * from final
