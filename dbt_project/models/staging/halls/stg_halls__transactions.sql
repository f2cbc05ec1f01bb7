{%- set files = staging_files_to_read('halls') %}
{{
    config(
        unique_key='txn_id',
        pre_hook=["{{ staging_add_update_time(this) }}"],
        post_hook=["{{ delete_rows_of_replaced_files(this) }}"],
        indexes=staging_indexes(
            'txn_id',
            'txn_at',
            [['halls', 'txn_id'], ['msisdn', 'msisdn']],
        ),
    )
}}
-- Hall transactions: local time, BOSS codes mapped, phones normalised, one row per txn_id.
-- B_PICKUP (collecting a store order) has no business type: it is a visit, not a transaction.
-- Incremental: a run reads the files not staged yet (macros/incremental_staging.sql).
with transactions as (
    select * from {{ source('halls', 'hall_txn') }}
    {{- staged_files_filter(files) }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'halls'
),

parsed as (
    select
        transactions.txn_id,
        transactions.hall_code,
        transactions.region_code,
        {{ normalise_msisdn('transactions.msisdn') }} as msisdn,
        transactions.txn_time::timestamp at time zone 'Asia/Shanghai' as txn_at,
        transactions.biz_code,
        codes.business_type,
        transactions.biz_code = 'B_PICKUP' as is_pickup,
        transactions.amount::numeric(14, 2) as amount_yuan,
        transactions.result,
        transactions.staff_id,
        transactions.ref_order_no,
        transactions._file_id as file_id,
        transactions._line as line_no,
        transactions._loaded_at as loaded_at
    from transactions
    left join codes
        on transactions.biz_code = codes.code
),

typed as (
    select
        txn_id,
        hall_code,
        region_code,
        msisdn,
        txn_at,
        (txn_at at time zone 'Asia/Shanghai')::date as txn_date,
        biz_code,
        business_type,
        is_pickup,
        amount_yuan,
        result,
        result = 'OK' as is_success,
        staff_id,
        ref_order_no,
        file_id,
        line_no,
        loaded_at
    from parsed
),

{{ first_delivery_ctes(files, 'txn_id') }}

final as (
    select
        txn_id,
        hall_code,
        region_code,
        msisdn,
        txn_at,
        txn_date,
        biz_code,
        business_type,
        is_pickup,
        amount_yuan,
        result,
        is_success,
        staff_id,
        ref_order_no,
        file_id,
        line_no,
        loaded_at,
        dbt_updated_at
    from ranked
    where delivery_no = 1
)

select * from final
