-- The nine channels of sources.md: e-channel and self-service flags, and the cost rank used by
-- the cross-channel guidance (1 = cheapest self-service channel).
with channels as (
    select * from {{ ref('channels') }}
),

final as (
    select
        channel,
        name_zh,
        name_en,
        is_echannel,
        is_self_service,
        channel like 'STORE\_%' as is_store,
        cost_rank
    from channels
)

select * from final
