-- The e-channel operations capability index (渠道运营能力评估) per month and region, 0 to 100:
-- each dimension's score is the mean of its KPI scores (kpi_index_scores), the index the sum of
-- the dimension scores weighted by the AHP weights (kpi_index_weights). A dimension with no KPI
-- value that month (a branch without a single store order, say) is left out and the other
-- weights are rescaled, rather than counted as zero. The eleven branches are ranked; ALL is the
-- province.
with scores as (
    select * from {{ ref('kpi_index_scores') }}
),

weights as (
    select * from {{ ref('kpi_index_weights') }}
),

dimension_scores as (
    select
        scores.month,
        scores.region_code,
        scores.dimension,
        avg(scores.score) as score
    from scores
    where scores.score is not null
    group by
        scores.month,
        scores.region_code,
        scores.dimension
),

indexed as (
    select
        dimension_scores.month,
        dimension_scores.region_code,
        max(dimension_scores.score) filter (where dimension_scores.dimension = 'reach') as reach_score,
        max(dimension_scores.score) filter (where dimension_scores.dimension = 'efficiency')
            as efficiency_score,
        max(dimension_scores.score) filter (where dimension_scores.dimension = 'experience')
            as experience_score,
        max(dimension_scores.score) filter (where dimension_scores.dimension = 'marketing')
            as marketing_score,
        max(dimension_scores.score) filter (where dimension_scores.dimension = 'synergy')
            as synergy_score,
        sum(weights.weight * dimension_scores.score) / sum(weights.weight) as capability_index,
        count(*) as dimensions_scored
    from dimension_scores
    inner join weights
        on dimension_scores.dimension = weights.dimension
    group by
        dimension_scores.month,
        dimension_scores.region_code
),

final as (
    select
        month,
        region_code,
        round(reach_score, 2) as reach_score,
        round(efficiency_score, 2) as efficiency_score,
        round(experience_score, 2) as experience_score,
        round(marketing_score, 2) as marketing_score,
        round(synergy_score, 2) as synergy_score,
        round(capability_index, 2) as capability_index,
        dimensions_scored,
        case
            when region_code <> 'ALL'
                then rank() over (
                    partition by month, region_code = 'ALL'
                    order by capability_index desc
                )
        end as index_rank
    from indexed
)

select * from final
