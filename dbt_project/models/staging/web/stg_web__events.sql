{%- set files = staging_files_to_read('web') %}
{{
    config(
        unique_key='event_id',
        pre_hook=["{{ staging_add_update_time(this) }}"],
        post_hook=["{{ delete_rows_of_replaced_files(this) }}"],
        indexes=staging_indexes(
            'event_id',
            'event_at',
            [
                ['web', 'event_id'],
                ['msisdn', 'msisdn'],
                ['member', 'member_id'],
                ['web_visitor', 'visitor_id'],
            ],
        ),
    )
}}
-- Website events: typed, phones normalised, codes mapped, one row per event_id (the collector
-- retries, so an event can be delivered twice: the first delivery in load order is kept).
-- Incremental: a run reads the files not staged yet (macros/incremental_staging.sql).
with events as (
    select * from {{ source('web', 'web_events') }}
    {{- staged_files_filter(files) }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'web'
),

typed as (
    select
        events.event_id,
        events.ts::timestamptz as event_at,
        (events.ts::timestamptz at time zone 'Asia/Shanghai')::date as event_date,
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
        events.result = 'success' as is_success,
        events.fail_reason,
        events.page,
        events.extra,
        events._file_id as file_id,
        events._line as line_no,
        events._loaded_at as loaded_at
    from events
    left join codes
        on
            events.biz_code = codes.code
            and events.event in ('biz_submit', 'biz_result')
),

{{ first_delivery_ctes(files, 'event_id') }}

final as (
    select
        event_id,
        event_at,
        event_date,
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
        is_success,
        fail_reason,
        page,
        extra,
        file_id,
        line_no,
        loaded_at,
        dbt_updated_at
    from ranked
    where delivery_no = 1
)

select * from final
