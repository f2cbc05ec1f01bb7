{{
    config(
        materialized='incremental',
        unique_key='call_id',
        incremental_strategy='logged_delete_insert',
        on_schema_change='fail',
        post_hook=[
            "{{ start_change_log(this) }}",
            "{{ delete_rows_of_replaced_files(this, logged=true) }}",
        ],
        indexes=[
            {'columns': ['call_id'], 'unique': true},
            {'columns': ['file_id']},
            {'columns': ['call_date']},
            {'columns': ['dbt_updated_at']},
        ],
    )
}}
-- 10086 calls with their service times: queue wait (answer − IVR end) and handle time (hang-up −
-- answer) for agent calls, abandonment, the 20-second service level, the survey score and the
-- complaint flag; customer and region as fct_interactions attributes them. Incremental on the
-- rows of fct_interactions that its latest run wrote.
with calls as (
    select * from {{ ref('stg_hotline__calls') }}
),

interactions as (
    select * from {{ ref('fct_interactions') }}
    where
        source = 'hotline'
        {% if is_incremental() %}
        and dbt_updated_at > {{ newest_update(this) }}
        {% endif %}
),

final as (
    select
        calls.call_id,
        interactions.interaction_key,
        calls.channel,
        calls.service_type,
        calls.business_type,
        calls.call_started_at,
        calls.call_date,
        date_trunc('month', calls.call_date)::date as call_month,
        calls.ivr_ended_at,
        calls.answered_at,
        calls.hung_up_at,
        calls.is_agent_call,
        calls.is_abandoned,
        calls.queue_wait_seconds,
        calls.handle_seconds,
        calls.is_agent_call and calls.queue_wait_seconds <= 20 as is_answered_within_20s,
        calls.biz_result,
        interactions.is_attempt,
        interactions.is_success,
        calls.satisfaction_score,
        calls.is_complaint_flagged,
        calls.is_caller_landline,
        {{ mask_msisdn('calls.msisdn') }} as msisdn_masked,
        interactions.customer_id,
        interactions.is_identified,
        interactions.region_code,
        calls.file_id,
        interactions.dbt_updated_at
    from calls
    inner join interactions
        on calls.call_id = interactions.source_record_id
)

select * from final
