-- Customer history (SCD type 2) in business time: a CRM version holds from its updated_at until
-- the next version's; the first known version also holds for any time before it (kpis.md). It
-- is rebuilt from every version ever delivered, so a delta that arrives late lands in its place.
with versions as (
    select * from {{ ref('stg_crm__customers') }}
),

ordered as (
    select
        *,
        row_number() over (partition by customer_id order by updated_at) as version_no,
        lead(updated_at) over (partition by customer_id order by updated_at) as next_updated_at
    from versions
),

final as (
    select
        customer_id || '#' || version_no as customer_version_key,
        customer_id,
        version_no,
        msisdn,
        member_id,
        email,
        region_code,
        value_tier,
        is_high_value,
        status,
        open_date,
        updated_at,
        case when version_no = 1 then '-infinity'::timestamptz else updated_at end as valid_from,
        coalesce(next_updated_at, 'infinity'::timestamptz) as valid_to,
        next_updated_at is null as is_current,
        file_id,
        loaded_at
    from ordered
)

select * from final
