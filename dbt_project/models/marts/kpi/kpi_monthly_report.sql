-- kpi_monthly as the monthly report shows it: each value with its KPI's name, unit and report
-- group, the previous month's value and the change against it, the target that applies (the
-- month's own row, else the default; a channel's own row before the KPI's) and whether it was
-- met, and the region's capability index and rank.
with kpis as (
    select * from {{ ref('kpi_monthly') }}
),

definitions as (
    select * from {{ ref('kpi_definitions') }}
),

targets as (
    select * from {{ ref('kpi_targets') }}
),

regions as (
    select * from {{ ref('dim_region') }}
),

capability_index as (
    select * from {{ ref('kpi_capability_index') }}
),

with_previous as (
    select
        kpis.*,
        previous.value as previous_value
    from kpis
    left join kpis as previous
        on
            kpis.region_code = previous.region_code
            and kpis.kpi_code = previous.kpi_code
            and kpis.channel is not distinct from previous.channel
            and (kpis.month - interval '1 month')::date = previous.month
),

with_target as (
    select
        with_previous.*,
        applying.target,
        applying.higher_is_better
    from with_previous
    left join lateral (
        select
            targets.target,
            targets.higher_is_better
        from targets
        where
            targets.kpi_code = with_previous.kpi_code
            and (targets.month = with_previous.month or targets.month is null)
            and (targets.channel = with_previous.channel or targets.channel is null)
        order by
            targets.month is null,
            targets.channel is null
        limit 1
    ) as applying on true
),

final as (
    select
        with_target.month,
        with_target.region_code,
        case
            when with_target.region_code = 'ALL' then '全省'
            else regions.name_zh
        end as region_name_zh,
        case
            when with_target.region_code = 'ALL' then 'province'
            else regions.name_en
        end as region_name_en,
        coalesce(regions.display_order, 99) as region_order,
        definitions.report_group,
        definitions.display_order,
        with_target.kpi_code,
        definitions.name_zh as kpi_name_zh,
        definitions.name_en as kpi_name_en,
        definitions.unit,
        with_target.channel,
        with_target.value,
        with_target.numerator,
        with_target.denominator,
        with_target.previous_value,
        with_target.value - with_target.previous_value as change_vs_previous,
        with_target.target,
        with_target.higher_is_better,
        case
            when with_target.target is null then null
            when with_target.higher_is_better then with_target.value >= with_target.target
            else with_target.value <= with_target.target
        end as is_target_met,
        capability_index.capability_index,
        capability_index.index_rank
    from with_target
    inner join definitions
        on with_target.kpi_code = definitions.kpi_code
    left join regions
        on with_target.region_code = regions.region_code
    left join capability_index
        on
            with_target.month = capability_index.month
            and with_target.region_code = capability_index.region_code
)

select * from final
