{%- set files = staging_files_to_read('hotline') %}
{{
    config(
        unique_key='call_id',
        pre_hook=["{{ staging_add_update_time(this) }}"],
        post_hook=["{{ delete_rows_of_replaced_files(this) }}"],
        indexes=staging_indexes(
            'call_id',
            'call_started_at',
            [['hotline', 'call_id'], ['msisdn', 'msisdn']],
        ),
    )
}}
-- 10086 calls: local times to timestamps, service type to channel, codes mapped, phones
-- normalised, one row per call id. The customer's phone is the number verified in the IVR,
-- else the caller's number when it is a mobile (a landline identifies nobody).
-- Incremental: a run reads the files not staged yet (macros/incremental_staging.sql).
with calls as (
    select * from {{ source('hotline', 'hotline_cdr') }}
    {{- staged_files_filter(files) }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'hotline'
),

parsed as (
    select
        calls.call_id,
        {{ normalise_msisdn('calls.caller_number') }} as caller_msisdn,
        {{ normalise_msisdn('calls.verified_number') }} as verified_msisdn,
        calls.caller_number is not null
        and {{ normalise_msisdn('calls.caller_number') }} is null as is_caller_landline,
        calls.call_start::timestamp at time zone 'Asia/Shanghai' as call_started_at,
        calls.ivr_end::timestamp at time zone 'Asia/Shanghai' as ivr_ended_at,
        calls.answer_time::timestamp at time zone 'Asia/Shanghai' as answered_at,
        calls.hangup_time::timestamp at time zone 'Asia/Shanghai' as hung_up_at,
        calls.service_type,
        case calls.service_type
            when 'IVR自助' then 'HOTLINE_IVR'
            else 'HOTLINE_AGENT'
        end as channel,
        calls.agent_id,
        calls.biz_code,
        codes.business_type,
        calls.biz_result,
        calls.satisfaction::integer as satisfaction_score,
        calls.is_complaint = '是' as is_complaint_flagged,
        calls.region_code,
        calls._file_id as file_id,
        calls._line as line_no,
        calls._loaded_at as loaded_at
    from calls
    left join codes
        on calls.biz_code = codes.code
),

typed as (
    select
        call_id,
        coalesce(verified_msisdn, caller_msisdn) as msisdn,
        caller_msisdn,
        verified_msisdn,
        is_caller_landline,
        call_started_at,
        (call_started_at at time zone 'Asia/Shanghai')::date as call_date,
        ivr_ended_at,
        answered_at,
        hung_up_at,
        service_type,
        channel,
        service_type = '放弃' as is_abandoned,
        service_type = '人工' as is_agent_call,
        agent_id,
        biz_code,
        business_type,
        biz_result,
        case
            when biz_result = '成功' then true
            when biz_result = '失败' then false
            when biz_result is null and business_type in ('BILL_QUERY', 'CONSULT') then true
            else false
        end as is_success,
        satisfaction_score,
        is_complaint_flagged,
        region_code,
        extract(epoch from answered_at - ivr_ended_at)::integer as queue_wait_seconds,
        extract(epoch from hung_up_at - answered_at)::integer as handle_seconds,
        file_id,
        line_no,
        loaded_at
    from parsed
),

{{ first_delivery_ctes(files, 'call_id') }}

final as (
    select
        call_id,
        msisdn,
        caller_msisdn,
        verified_msisdn,
        is_caller_landline,
        call_started_at,
        call_date,
        ivr_ended_at,
        answered_at,
        hung_up_at,
        service_type,
        channel,
        is_abandoned,
        is_agent_call,
        agent_id,
        biz_code,
        business_type,
        biz_result,
        is_success,
        satisfaction_score,
        is_complaint_flagged,
        region_code,
        queue_wait_seconds,
        handle_seconds,
        file_id,
        line_no,
        loaded_at,
        dbt_updated_at
    from ranked
    where delivery_no = 1
)

select * from final
