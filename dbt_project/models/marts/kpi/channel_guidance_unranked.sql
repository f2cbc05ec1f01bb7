{#- Incremental by customer (dbt_project.yml, macros/kpi_customers.sql), as
    customer_channel_preference, which it reads: a daily run rebuilds the rows of the customers
    whose records or CRM versions changed, from the first month that changed for them, the months
    of replaced deliveries (and the three after, as the preference score) and the new months
    whole; the pre-hook deletes the same rows first. The rank in the region is not stored: it
    depends on every row of the month and region, so one customer's change would rewrite them all;
    channel_guidance_list, a view, numbers the rows when it is read. #}
{{ config(pre_hook=["{{ delete_kpi_rows_to_rebuild(this, months_after=3) }}"]) }}
{%- set months = kpi_months_to_rebuild(this, months_after=3, by_customer=true) %}
{%- set customers = kpi_customers_to_rebuild(this) %}
-- The cross-channel guidance list of kpis.md (渠道交叉引导), without its order: active customers
-- who did offloadable business successfully through a 10086 agent or a hall this month, with the
-- self-service channel to guide them to and its preference score. High-value customers (DIAMOND,
-- GOLD) get the channel they prefer most; the others the lowest-cost channel (SMS, then APP, WEB,
-- HOTLINE_IVR) among those scoring guidance_min_score or more, or, with none that high, the
-- channel they prefer most.
with
{%- if customers is not none %}
rebuilt_customers as (
    -- customers whose rows are rebuilt from from_month on
    {{ customers }}
),
{%- endif %}

interactions as (
    {{ rows_to_rebuild(ref('fct_interactions'), 'occurred_date', 'occurred_month', months, customers) }}
),

business_types as (
    select * from {{ ref('dim_business_type') }}
),

preference as (
    {{ rows_to_rebuild(ref('customer_channel_preference'), 'month', 'month', months, customers) }}
),

points as (
    select * from {{ ref('preference_points') }}
),

min_score as (
    select max(points) as points
    from points
    where rule = 'guidance_min_score'
),

assisted as (
    select
        interactions.occurred_month as month,
        interactions.customer_id,
        count(*) as assisted_transactions,
        string_agg(distinct interactions.channel, ', ' order by interactions.channel)
            as assisted_channels,
        string_agg(
            distinct interactions.business_type, ', ' order by interactions.business_type
        ) as offloadable_business_types
    from interactions
    inner join business_types
        on interactions.business_type = business_types.business_type
    where
        interactions.channel in ('HOTLINE_AGENT', 'HALL')
        and interactions.is_success
        and interactions.is_identified
        and business_types.is_offloadable
    group by
        interactions.occurred_month,
        interactions.customer_id
),

ranked as (
    -- the assisted customers' preference rows, each with the customer's assisted business (one
    -- row per month and customer: the join adds none). Joined here, not again at the end: there
    -- the planner, expecting one chosen row for thousands, looped over every assisted row for
    -- each (33 million on the 12-month bench's next day, 2 s)
    select
        preference.*,
        assisted.assisted_channels,
        assisted.offloadable_business_types,
        assisted.assisted_transactions,
        coalesce(
            preference.cost_rank is not null
            and preference.preference_score >= (select min_score.points from min_score),
            false
        ) as meets_threshold,
        row_number() over (
            partition by preference.month, preference.customer_id
            order by
                preference.preference_score desc,
                preference.cost_rank asc nulls last,
                preference.channel asc
        ) as preference_rank
    from preference
    inner join assisted
        on
            preference.month = assisted.month
            and preference.customer_id = assisted.customer_id
),

with_cheapest as (
    -- each row with the customer's lowest-cost channel among those scoring at least the threshold
    -- (when one does): a second window over the customer's own rows, not a join to a distinct-on
    -- of the same rows, which the planner, expecting one preferred row, ran as a nested loop that
    -- sorted the rows again for each (5 million rows sorted on the 12-month bench's next day)
    select
        ranked.*,
        first_value(ranked.meets_threshold) over cheapest_first as any_meets_threshold,
        first_value(ranked.channel) over cheapest_first as cheapest_channel,
        first_value(ranked.preference_score) over cheapest_first as cheapest_score
    from ranked
    window cheapest_first as (
        partition by ranked.month, ranked.customer_id
        order by ranked.meets_threshold desc, ranked.cost_rank asc nulls last, ranked.channel asc
    )
),

preferred as (
    -- the customer's most preferred channel
    select * from with_cheapest
    where preference_rank = 1
),

chosen as (
    select
        preferred.month,
        preferred.customer_id,
        preferred.region_code,
        preferred.value_tier,
        preferred.is_high_value,
        case
            when preferred.is_high_value then preferred.channel
            when preferred.any_meets_threshold then preferred.cheapest_channel
            else preferred.channel
        end as recommended_channel,
        case
            when preferred.is_high_value then preferred.preference_score
            when preferred.any_meets_threshold then preferred.cheapest_score
            else preferred.preference_score
        end as recommended_score,
        case
            when preferred.is_high_value then 'highest_preference'
            when preferred.any_meets_threshold then 'lowest_cost'
            else 'highest_preference_below_threshold'
        end as recommendation_basis,
        preferred.channel as preferred_channel,
        preferred.preference_score as preferred_score,
        preferred.assisted_channels,
        preferred.offloadable_business_types,
        preferred.assisted_transactions
    from preferred
),

final as (
    select
        chosen.month,
        chosen.region_code,
        chosen.customer_id,
        chosen.value_tier,
        chosen.is_high_value,
        chosen.assisted_channels,
        chosen.offloadable_business_types,
        chosen.assisted_transactions,
        chosen.recommended_channel,
        chosen.recommended_score,
        chosen.recommendation_basis,
        chosen.preferred_channel,
        chosen.preferred_score,
        now() as dbt_updated_at
    from chosen
)

select * from final
