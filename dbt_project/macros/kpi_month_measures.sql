{#- The measures of int_kpi_month_totals that are sums over records and calls: kpis.md's counts
    and amounts, each a signed sum (sign 1 for a record as it is now, -1 for a record as the table
    last saw it), so that a daily run adds the differences to what the table holds. The model
    decides which records are summed (months rebuilt whole, or the changes); these macros are the
    catalogue of what is summed, and how each sum becomes a row (month, region_code, channel,
    measure, amount). -#}

{#- Every count and amount over records by month, region and channel, in one pass over `records`
    (the signed records with their channel's and business type's flags). -#}
{% macro kpi_record_measures_by_channel(records) -%}
select
    occurred_month as month,
    region_code,
    channel,
    sum(sign) as records,
    sum(sign) filter (where is_transaction) as all_transactions,
    sum(sign) filter (where is_transaction and is_echannel) as echannel_transactions,
    sum(sign) filter (
        where is_attempt and is_echannel and is_transaction_type
    ) as echannel_transaction_attempts,
    sum(sign) filter (
        where is_attempt and is_echannel and is_transaction_type and is_success
    ) as echannel_transaction_successes,
    sum(sign * amount_yuan) filter (
        where is_success and is_echannel and business_type = 'PAYMENT' and not is_refunded
    ) as epayment_amount,
    sum(sign) filter (
        where is_transaction and is_echannel and business_type in ('PLAN_CHANGE', 'CAMPAIGN')
    ) as plan_campaigns,
    sum(sign) filter (
        where is_transaction and business_type = 'NUMBER_OPEN'
        and (channel in ('WEB', 'APP') or channel like 'STORE\_%')
    ) as online_number_opens,
    sum(sign) filter (where survey_score is not null) as surveys,
    sum(sign) filter (where survey_score >= 4) as satisfied_surveys,
    sum(sign) filter (where is_attempt and is_success and is_offloadable) as offloadable,
    sum(sign) filter (
        where is_attempt and is_success and is_offloadable and is_self_service
    ) as offloaded,
    sum(sign) filter (where source = 'stores') as store_orders,
    sum(sign) filter (where source = 'stores' and is_success) as store_successes,
    sum(sign) filter (
        where source = 'stores' and is_success and has_pickup_hall
    ) as store_pickups,
    sum(sign * amount_yuan) filter (
        where is_attempt and is_success and not is_refunded
    ) as sales_amount,
    -- COMPLAINT attempts, and hotline calls flagged 是否投诉 that are not already such an attempt
    sum(sign) filter (
        where (is_attempt and business_type = 'COMPLAINT') or is_complaint_flagged
    ) as complaints,
    sum(sign) filter (
        where source in ('web', 'app') and event_type = 'register'
    ) as registrations,
    sum(sign) filter (where is_attempt) as attempts,
    sum(sign) filter (where is_attempt and is_identified) as identified_attempts,
    -- identity_coverage's (not KPIs): the records tied to a customer, and by which identifier
    sum(sign) filter (where is_identified) as identified_records,
    sum(sign) filter (where identified_by = 'msisdn') as identified_by_msisdn,
    sum(sign) filter (where identified_by = 'member_id') as identified_by_member_id,
    sum(sign) filter (
        where identified_by in ('app_uid', 'web_visitor', 'store_account')
    ) as identified_by_link
from {{ records }}
group by
    occurred_month,
    region_code,
    channel
{%- endmacro %}

{#- The sums of kpi_record_measures_by_channel, a row each. -#}
{% macro kpi_record_measures_as_rows(by_channel) -%}
select
    by_channel.month,
    by_channel.region_code,
    by_channel.channel,
    measures.measure,
    measures.amount
from {{ by_channel }} as by_channel
cross join lateral (
    values
    ('records', by_channel.records::numeric),
    ('all_transactions', by_channel.all_transactions),
    ('echannel_transactions', by_channel.echannel_transactions),
    ('echannel_transaction_attempts', by_channel.echannel_transaction_attempts),
    ('echannel_transaction_successes', by_channel.echannel_transaction_successes),
    ('epayment_amount', by_channel.epayment_amount),
    ('plan_campaigns', by_channel.plan_campaigns),
    ('online_number_opens', by_channel.online_number_opens),
    ('surveys', by_channel.surveys),
    ('satisfied_surveys', by_channel.satisfied_surveys),
    ('offloadable', by_channel.offloadable),
    ('offloaded', by_channel.offloaded),
    ('store_orders', by_channel.store_orders),
    ('store_successes', by_channel.store_successes),
    ('store_pickups', by_channel.store_pickups),
    ('sales_amount', by_channel.sales_amount),
    ('complaints', by_channel.complaints),
    ('registrations', by_channel.registrations),
    ('attempts', by_channel.attempts),
    ('identified_attempts', by_channel.identified_attempts),
    ('identified_records', by_channel.identified_records),
    ('identified_by_msisdn', by_channel.identified_by_msisdn),
    ('identified_by_member_id', by_channel.identified_by_member_id),
    ('identified_by_link', by_channel.identified_by_link)
) as measures (measure, amount)
{%- endmacro %}

{#- The hotline measures of kpis.md (calls counted, answered within 20 s, abandoned, handled and
    their handling time) by month and region, a row each, from `signed_calls` (the calls of
    fct_hotline_calls, signed as the records are). -#}
{% macro kpi_hotline_call_measures(signed_calls) -%}
select
    by_region.call_month,
    by_region.region_code,
    '',
    calls_measures.measure,
    calls_measures.amount
from (
    select
        call_month,
        region_code,
        sum(sign) filter (where is_agent_call or is_abandoned) as counted,
        sum(sign) filter (
            where (is_agent_call or is_abandoned) and is_answered_within_20s
        ) as answered_within_20s,
        sum(sign) filter (where (is_agent_call or is_abandoned) and is_abandoned) as abandoned,
        sum(sign * handle_seconds) filter (where is_agent_call) as handle_seconds,
        sum(sign) filter (where is_agent_call and handle_seconds is not null) as handled
    from {{ signed_calls }}
    group by call_month, region_code
) as by_region
cross join lateral (
    values
    ('hotline_calls', by_region.counted::numeric),
    ('hotline_answered_within_20s', by_region.answered_within_20s),
    ('hotline_abandoned', by_region.abandoned),
    ('hotline_handle_seconds', by_region.handle_seconds),
    ('hotline_handled_calls', by_region.handled)
) as calls_measures (measure, amount)
{%- endmacro %}
