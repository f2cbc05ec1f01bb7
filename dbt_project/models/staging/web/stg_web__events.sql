-- Website events: typed, phones normalised, codes mapped, one row per event_id (the collector
-- retries, so an event can be delivered twice: the first delivery in load order is kept).
with events as (
    select * from {{ source('web', 'web_events') }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'web'
),

typed as (
    select
        events.event_id,
        events.ts::timestamptz as event_at,
        events.session_id,
        events.visitor_id,
        events.member_id,
        {{ normalise_msisdn('events.msisdn') }} as msisdn,
        events.event as event_type,
        events.biz_code,
        codes.business_type,
        events.order_id,
        events.amount::numeric(14, 2) as amount_yuan,
        events.result,
        events.fail_reason,
        events.page,
        events.extra,
        events._file_id as file_id,
        events._line as line_no,
        events._loaded_at as loaded_at,
        row_number() over (
            partition by events.event_id
            order by events._file_id, events._line
        ) as delivery_no
    from events
    left join codes
        on
            events.biz_code = codes.code
            and events.event in ('biz_submit', 'biz_result')
),

final as (
    select
        event_id,
        event_at,
        (event_at at time zone 'Asia/Shanghai')::date as event_date,
        session_id,
        visitor_id,
        member_id,
        msisdn,
        event_type,
        biz_code,
        business_type,
        order_id,
        amount_yuan,
        result,
        result = 'success' as is_success,
        fail_reason,
        page,
        extra,
        file_id,
        line_no,
        loaded_at
    from typed
    where delivery_no = 1
)

select * from final
