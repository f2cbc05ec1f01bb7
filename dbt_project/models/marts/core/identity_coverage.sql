-- How many records each channel ties to a customer, by month: identified, anonymous, and the
-- identifier that did it. Made of the sums int_kpi_month_totals keeps by month, region and channel
-- (a daily run updates them by difference), not of the facts: on a year of history, counting the
-- 17 M facts again took 3 s of every daily run.
with totals as (
    select * from {{ ref('int_kpi_month_totals') }}
    where
        channel <> ''
        and measure in (
            'records',
            'identified_records',
            'identified_by_msisdn',
            'identified_by_member_id',
            'identified_by_link'
        )
),

by_channel as (
    select
        month,
        channel,
        coalesce(sum(amount) filter (where measure = 'records'), 0)::bigint as records,
        coalesce(sum(amount) filter (where measure = 'identified_records'), 0)::bigint
            as identified_records,
        coalesce(sum(amount) filter (where measure = 'identified_by_msisdn'), 0)::bigint
            as identified_by_msisdn,
        coalesce(sum(amount) filter (where measure = 'identified_by_member_id'), 0)::bigint
            as identified_by_member_id,
        coalesce(sum(amount) filter (where measure = 'identified_by_link'), 0)::bigint
            as identified_by_link
    from totals
    group by
        month,
        channel
),

final as (
    select
        month as occurred_month,
        channel,
        records,
        identified_records,
        records - identified_records as anonymous_records,
        round(identified_records::numeric / records, 4) as identified_share,
        identified_by_msisdn,
        identified_by_member_id,
        identified_by_link
    from by_channel
    -- a sum a daily run took to 0 stays as a row of 0 in the totals
    where records > 0
)

select * from final
