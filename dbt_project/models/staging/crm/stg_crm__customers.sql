-- CRM customer versions: one row per customer and updated_at (business time). The snapshot and
-- the deltas are alike here; the same version delivered twice (in the snapshot and a delta, or
-- in a corrected file) is kept once, from the latest file. E-mails are lower-cased (they are
-- matched case-insensitively); phones normalised.
with customers as (
    select * from {{ source('crm', 'crm_customers') }}
),

typed as (
    select
        customer_id,
        {{ normalise_msisdn('msisdn') }} as msisdn,
        member_id,
        lower(email) as email,
        region_code,
        value_tier,
        status,
        open_date::date as open_date,
        updated_at::timestamp at time zone 'Asia/Shanghai' as updated_at,
        _file_id as file_id,
        _line as line_no,
        _loaded_at as loaded_at,
        row_number() over (
            partition by customer_id, updated_at
            order by _file_id desc, _line desc
        ) as delivery_no
    from customers
),

final as (
    select
        customer_id,
        msisdn,
        member_id,
        email,
        region_code,
        value_tier,
        value_tier in ('DIAMOND', 'GOLD') as is_high_value,
        status,
        open_date,
        updated_at,
        file_id,
        line_no,
        loaded_at
    from typed
    where delivery_no = 1
)

select * from final
