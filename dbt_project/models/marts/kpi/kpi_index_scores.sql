-- The score of each KPI of the capability index (kpis.md), per month and region (the eleven
-- branches and ALL): min(100, 100 × value / target), or min(100, 100 × target / value) where lower
-- is better. Targets come from seeds/kpi_targets.csv: the month's own row, else the default.
-- conversion_rate is all channels together (their numerators over their denominators);
-- plan_campaign_per_1000_active is plan_campaign_volume per 1,000 active customers.
with kpis as (
    select * from {{ ref('kpi_monthly') }}
    where region_code <> 'UNKNOWN'
),

targets as (
    select * from {{ ref('kpi_targets') }}
    where channel is null
),

index_kpis (dimension, kpi_code) as (
    values
    ('reach', 'echannel_txn_share'),
    ('reach', 'echannel_penetration'),
    ('efficiency', 'echannel_success_rate'),
    ('efficiency', 'self_service_offload_rate'),
    ('experience', 'echannel_satisfaction'),
    ('experience', 'hotline_service_level'),
    ('marketing', 'conversion_rate'),
    ('marketing', 'plan_campaign_per_1000_active'),
    ('synergy', 'o2o_pickup_share'),
    ('synergy', 'identity_match_rate')
),

direct_values as (
    select
        month,
        region_code,
        kpi_code,
        value
    from kpis
    where
        channel is null
        and kpi_code in (select index_kpis.kpi_code from index_kpis)
),

conversion as (
    select
        month,
        region_code,
        'conversion_rate' as kpi_code,
        sum(numerator) / sum(denominator) as value
    from kpis
    where kpi_code = 'conversion_rate'
    group by
        month,
        region_code
),

plan_campaign_per_active as (
    select
        volume.month,
        volume.region_code,
        'plan_campaign_per_1000_active' as kpi_code,
        1000 * volume.value / penetration.denominator as value
    from kpis as volume
    inner join kpis as penetration
        on
            volume.month = penetration.month
            and volume.region_code = penetration.region_code
            and penetration.kpi_code = 'echannel_penetration'
    where volume.kpi_code = 'plan_campaign_volume'
),

index_values as (
    select * from direct_values
    union all
    select * from conversion
    union all
    select * from plan_campaign_per_active
),

scored as (
    select
        index_kpis.dimension,
        index_values.month,
        index_values.region_code,
        index_values.kpi_code,
        index_values.value,
        coalesce(for_month.target, by_default.target) as target,
        coalesce(for_month.higher_is_better, by_default.higher_is_better) as higher_is_better
    from index_values
    inner join index_kpis
        on index_values.kpi_code = index_kpis.kpi_code
    left join targets as for_month
        on
            index_values.kpi_code = for_month.kpi_code
            and index_values.month = for_month.month
    left join targets as by_default
        on
            index_values.kpi_code = by_default.kpi_code
            and by_default.month is null
),

final as (
    select
        month,
        region_code,
        dimension,
        kpi_code,
        round(value, 6) as value,
        target,
        higher_is_better,
        round(
            case
                when target is null then null
                when higher_is_better then least(100, 100 * value / target)
                when value = 0 then 100
                else least(100, 100 * target / value)
            end,
            2
        ) as score
    from scored
)

select * from final
