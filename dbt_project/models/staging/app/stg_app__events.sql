{%- set files = staging_files_to_read('app') %}
{{
    config(
        unique_key='event_id',
        pre_hook=["{{ staging_add_update_time(this) }}"],
        post_hook=["{{ delete_rows_of_replaced_files(this) }}"],
        indexes=staging_indexes(
            'event_id',
            'event_at',
            [['app', 'event_id'], ['msisdn', 'msisdn'], ['app_uid', 'uid']],
        ),
    )
}}
-- App events: epoch milliseconds to time, fen to yuan, codes mapped, one row per event id.
-- Incremental: a run reads the files not staged yet (macros/incremental_staging.sql).
with events as (
    select * from {{ source('app', 'app_events') }}
    {{- staged_files_filter(files) }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'app'
),

typed as (
    select
        events.event_id,
        to_timestamp(events.time_ms::bigint / 1000.0) as event_at,
        (to_timestamp(events.time_ms::bigint / 1000.0) at time zone 'Asia/Shanghai')::date
            as event_date,
        events.uid,
        {{ normalise_msisdn('events.msisdn') }} as msisdn,
        events.os,
        events.app_version,
        events.event_type,
        events.biz_code,
        codes.business_type,
        (events.amount_fen::bigint / 100.0)::numeric(14, 2) as amount_yuan,
        events.biz_status::integer as biz_status,
        events.biz_status::integer = 1 as is_success,
        events.biz_err,
        events.rating_score::integer as rating_score,
        events.export_date::date as export_date,
        events.extra,
        events._file_id as file_id,
        events._line as line_no,
        events._loaded_at as loaded_at
    from events
    left join codes
        on
            events.biz_code = codes.code
            and events.event_type = 'biz'
),

{{ first_delivery_ctes(files, 'event_id') }}

final as (
    select
        event_id,
        event_at,
        event_date,
        uid,
        msisdn,
        os,
        app_version,
        event_type,
        biz_code,
        business_type,
        amount_yuan,
        biz_status,
        is_success,
        biz_err,
        rating_score,
        export_date,
        extra,
        file_id,
        line_no,
        loaded_at,
        dbt_updated_at
    from ranked
    where delivery_no = 1
)

select * from final
