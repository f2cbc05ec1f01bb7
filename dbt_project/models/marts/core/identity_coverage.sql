-- How many records each channel ties to a customer, by month: identified, anonymous, and the
-- identifier that did it.
with interactions as (
    select * from {{ ref('fct_interactions') }}
),

final as (
    select
        occurred_month,
        channel,
        count(*) as records,
        count(*) filter (where is_identified) as identified_records,
        count(*) filter (where not is_identified) as anonymous_records,
        round(count(*) filter (where is_identified)::numeric / count(*), 4) as identified_share,
        count(*) filter (where identified_by = 'msisdn') as identified_by_msisdn,
        count(*) filter (where identified_by = 'member_id') as identified_by_member_id,
        count(*) filter (where identified_by in ('app_uid', 'web_visitor', 'store_account'))
            as identified_by_link
    from interactions
    group by
        occurred_month,
        channel
)

select * from final
