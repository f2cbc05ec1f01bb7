-- A view: the rank is computed when the list is read, over the rows of its month and region (a
-- filter on month reaches the table's month index through the window's partition). Stored, it
-- would change for every row of a region whenever one customer's row did, so a daily run would
-- rewrite every month (channel_guidance_unranked holds the rows, incremental by customer).
{{ config(materialized='view') }}
-- The cross-channel guidance list of kpis.md (渠道交叉引导), each region's list in order:
-- high-value customers first, then by recommended score, then by assisted transactions.
with unranked as (
    select * from {{ ref('channel_guidance_unranked') }}
),

final as (
    select
        month,
        region_code,
        row_number() over (
            partition by month, region_code
            order by
                is_high_value desc,
                recommended_score desc,
                assisted_transactions desc,
                customer_id asc
        ) as priority_in_region,
        customer_id,
        value_tier,
        is_high_value,
        assisted_channels,
        offloadable_business_types,
        assisted_transactions,
        recommended_channel,
        recommended_score,
        recommendation_basis,
        preferred_channel,
        preferred_score,
        dbt_updated_at
    from unranked
)

select * from final
