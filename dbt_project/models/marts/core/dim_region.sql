-- The eleven city branches, plus UNKNOWN for records that no region can be given.
with regions as (
    select * from {{ ref('regions') }}
),

final as (
    select
        region_code,
        name_zh,
        name_en,
        display_order,
        region_code <> 'UNKNOWN' as is_branch
    from regions
)

select * from final
