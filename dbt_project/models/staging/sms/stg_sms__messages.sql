{%- set files = staging_files_to_read('sms') %}
{{
    config(
        unique_key='msg_id',
        pre_hook=["{{ staging_add_update_time(this) }}"],
        post_hook=["{{ delete_rows_of_replaced_files(this) }}"],
        indexes=staging_indexes(
            'msg_id',
            'received_at',
            [['sms', 'msg_id'], ['msisdn', 'msisdn']],
        ),
    )
}}
-- SMS commands: local time, commands mapped (BLTC_<plan> is a plan change, MYD<n> a
-- satisfaction reply with score n), fen to yuan, one row per msg_id.
-- Incremental: a run reads the files not staged yet (macros/incremental_staging.sql).
with messages as (
    select * from {{ source('sms', 'sms_hall') }}
    {{- staged_files_filter(files) }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'sms'
),

parsed as (
    select
        messages.msg_id,
        {{ normalise_msisdn('messages.msisdn') }} as msisdn,
        to_timestamp(messages.recv_time, 'YYYYMMDDHH24MISS')::timestamp
        at time zone 'Asia/Shanghai' as received_at,
        messages.command,
        messages.command ~ '^MYD[1-5]$' as is_survey_reply,
        case
            when messages.command ~ '^MYD[1-5]$' then substr(messages.command, 4)::integer
        end as survey_score,
        codes.business_type,
        messages.reply_code,
        messages.amount_fen::bigint / 100.0 as amount_yuan,
        messages.region_code,
        messages._file_id as file_id,
        messages._line as line_no,
        messages._loaded_at as loaded_at
    from messages
    left join codes
        on codes.code = case
            when messages.command like 'BLTC\_%' then 'BLTC_*'
            else messages.command
        end
),

typed as (
    select
        msg_id,
        msisdn,
        received_at,
        (received_at at time zone 'Asia/Shanghai')::date as received_date,
        command,
        is_survey_reply,
        survey_score,
        business_type,
        reply_code,
        reply_code = '0' as is_success,
        amount_yuan::numeric(14, 2) as amount_yuan,
        region_code,
        file_id,
        line_no,
        loaded_at
    from parsed
),

{{ first_delivery_ctes(files, 'msg_id') }}

final as (
    select
        msg_id,
        msisdn,
        received_at,
        received_date,
        command,
        is_survey_reply,
        survey_score,
        business_type,
        reply_code,
        is_success,
        amount_yuan,
        region_code,
        file_id,
        line_no,
        loaded_at,
        dbt_updated_at
    from ranked
    where delivery_no = 1
)

select * from final
