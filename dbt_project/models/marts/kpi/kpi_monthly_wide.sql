-- kpi_monthly with one row per month and region and one column per KPI (per-channel KPIs as one
-- column per channel), for people who read a region across. A view: it is always kpi_monthly.
{{ config(materialized='view') }}

{%- set kpis = [
    'echannel_txn_share', 'echannel_penetration', 'echannel_success_rate',
    'epayment_amount', 'plan_campaign_volume', 'online_number_open_volume',
    'echannel_satisfaction', 'self_service_offload_rate', 'o2o_pickup_share',
    'hotline_service_level', 'hotline_abandon_rate', 'hotline_avg_handle_seconds',
    'complaints_per_10k', 'new_registrations', 'app_mau', 'identity_match_rate',
] %}
{%- set per_channel = [
    ('channel_volume_share', ['WEB', 'APP', 'SMS', 'HOTLINE_IVR', 'HOTLINE_AGENT',
                              'STORE_TAOBAO', 'STORE_JD', 'STORE_MEITUAN']),
    ('conversion_rate', ['WEB', 'APP', 'STORE_TAOBAO', 'STORE_JD', 'STORE_MEITUAN']),
    ('online_sales_amount', ['WEB', 'APP', 'STORE_TAOBAO', 'STORE_JD', 'STORE_MEITUAN']),
] %}

with kpis as (
    select * from {{ ref('kpi_monthly') }}
),

final as (
    select
        month,
        region_code,
        {%- for kpi in kpis %}
        max(value) filter (where kpi_code = '{{ kpi }}') as {{ kpi }},
        {%- endfor %}
        {%- for kpi, channels in per_channel %}
        {%- for channel in channels %}
        max(value) filter (
            where kpi_code = '{{ kpi }}' and channel = '{{ channel }}'
        ) as {{ kpi }}_{{ channel | lower }},
        {%- endfor %}
        {%- endfor %}
        count(*) as kpi_rows
    from kpis
    group by
        month,
        region_code
)

select * from final
