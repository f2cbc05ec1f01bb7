-- The e-channels' shares of e-channel transactions add up to 1 in every region and month, and
-- the province's numerators are the sums of the regions'.
with kpis as (
    select * from {{ ref('kpi_monthly') }}
),

shares as (
    select
        month,
        region_code,
        sum(value) as total
    from kpis
    where kpi_code = 'channel_volume_share'
    group by
        month,
        region_code
),

province as (
    select
        kpis.month,
        kpis.kpi_code,
        kpis.channel,
        sum(kpis.numerator) filter (where kpis.region_code <> 'ALL') as regions,
        sum(kpis.numerator) filter (where kpis.region_code = 'ALL') as province
    from kpis
    where kpis.denominator is null
    group by
        kpis.month,
        kpis.kpi_code,
        kpis.channel
)

select
    month,
    region_code as what,
    total as observed
from shares
where abs(total - 1) > 0.0001
union all
select
    month,
    kpi_code,
    province
from province
where regions <> province
