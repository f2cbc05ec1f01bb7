-- App events: epoch milliseconds to time, fen to yuan, codes mapped, one row per event id.
with events as (
    select * from {{ source('app', 'app_events') }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'app'
),

typed as (
    select
        events.event_id,
        to_timestamp(events.time_ms::bigint / 1000.0) as event_at,
        events.uid,
        {{ normalise_msisdn('events.msisdn') }} as msisdn,
        events.os,
        events.app_version,
        events.event_type,
        events.biz_code,
        codes.business_type,
        events.amount_fen::bigint / 100.0 as amount_yuan,
        events.biz_status::integer as biz_status,
        events.biz_err,
        events.rating_score::integer as rating_score,
        events.export_date::date as export_date,
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
            and events.event_type = 'biz'
),

final as (
    select
        event_id,
        event_at,
        (event_at at time zone 'Asia/Shanghai')::date as event_date,
        uid,
        msisdn,
        os,
        app_version,
        event_type,
        biz_code,
        business_type,
        amount_yuan::numeric(14, 2) as amount_yuan,
        biz_status,
        biz_status = 1 as is_success,
        biz_err,
        rating_score,
        export_date,
        extra,
        file_id,
        line_no,
        loaded_at
    from typed
    where delivery_no = 1
)

select * from final
