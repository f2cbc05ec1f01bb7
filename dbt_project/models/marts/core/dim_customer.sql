-- One row per CRM customer, as the CRM holds it now (its current version), with when it was
-- first and last changed. Phones, member ids and e-mails only masked or as keyed hashes.
with history as (
    select * from {{ ref('int_customer_history') }}
),

firsts as (
    select
        customer_id,
        min(updated_at) as first_updated_at,
        count(*) as versions
    from history
    group by customer_id
),

final as (
    select
        history.customer_id,
        history.region_code,
        history.value_tier,
        history.is_high_value,
        history.status,
        history.status = 'ACTIVE' as is_active,
        history.open_date,
        firsts.first_updated_at,
        history.updated_at as last_updated_at,
        firsts.versions,
        {{ mask_msisdn('history.msisdn') }} as msisdn_masked,
        {{ pii_hash('history.msisdn') }} as msisdn_hash,
        {{ pii_hash('history.member_id') }} as member_id_hash,
        {{ pii_hash('history.email') }} as email_hash
    from history
    inner join firsts
        on history.customer_id = firsts.customer_id
    where history.is_current
)

select * from final
