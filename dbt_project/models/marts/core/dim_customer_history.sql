-- Every CRM version of every customer (SCD type 2, business time). A version is valid from
-- valid_from (its updated_at) until valid_to (the next version's updated_at; null while it is
-- current). The first version also stands for the time before it: is_first_version. Phones,
-- member ids and e-mails only masked or as keyed hashes.
with history as (
    select * from {{ ref('int_customer_history') }}
),

final as (
    select
        customer_version_key,
        customer_id,
        version_no,
        version_no = 1 as is_first_version,
        is_current,
        updated_at as valid_from,
        case when is_current then null else valid_to end as valid_to,
        region_code,
        value_tier,
        is_high_value,
        status,
        open_date,
        {{ mask_msisdn('msisdn') }} as msisdn_masked,
        {{ pii_hash('msisdn') }} as msisdn_hash,
        {{ pii_hash('member_id') }} as member_id_hash,
        {{ pii_hash('email') }} as email_hash
    from history
)

select * from final
