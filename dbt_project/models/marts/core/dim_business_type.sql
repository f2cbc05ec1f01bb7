-- The unified business types every channel's codes map to (sources.md).
with business_types as (
    select * from {{ ref('business_types') }}
),

final as (
    select
        business_type,
        name_zh,
        name_en,
        is_transaction,
        is_offloadable
    from business_types
)

select * from final
