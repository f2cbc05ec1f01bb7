-- Every problem the loader set aside, per month and source: each rejected file with its rule and
-- reason, and the quarantined rows of the files in force counted by rule, with the first line
-- and message as an example. The detail behind data_quality_monthly. Messages quote the bad
-- value; runs of 7 or more digits (phone numbers, whole or broken; not the dates in file names,
-- which follow an underscore) keep only their first 3.
with files as (
    select * from {{ ref('stg_audit__files') }}
),

quarantine as (
    select * from {{ ref('stg_audit__quarantine') }}
),

rejected_files as (
    select
        business_month as month,
        source,
        'file rejected' as issue_kind,
        file_name,
        rejection_rule as rule_name,
        1 as occurrences,
        null::integer as first_line_no,
        regexp_replace(
            rejection_reason, '(^|[^_\d])(\d{3})\d{4,}', '\1\2****', 'g'
        ) as example_message
    from files
    where status = 'rejected'
),

quarantined_rows as (
    select
        files.business_month as month,
        files.source,
        'rows quarantined' as issue_kind,
        files.file_name,
        quarantine.rule,
        count(*) as occurrences,
        min(quarantine.line_no) as first_line_no,
        regexp_replace(
            (array_agg(quarantine.message order by quarantine.line_no))[1],
            '(^|[^_\d])(\d{3})\d{4,}',
            '\1\2****',
            'g'
        ) as example_message
    from quarantine
    inner join files
        on quarantine.file_id = files.file_id
    where files.status = 'loaded'
    group by
        files.business_month,
        files.source,
        files.file_name,
        quarantine.rule
),

final as (
    select * from rejected_files
    union all
    select * from quarantined_rows
)

select * from final
