-- How far to trust a month: per month (of the files' business dates) and source, the files
-- delivered and what became of them, the rows read, loaded and quarantined, and the Great
-- Expectations checks passed and failed. The appendix of the monthly report.
with files as (
    select * from {{ ref('stg_audit__files') }}
),

check_results as (
    select * from {{ ref('stg_audit__check_results') }}
),

checks_per_file as (
    select
        file_id,
        count(*) filter (where is_success) as checks_passed,
        count(*) filter (where not is_success and severity = 'critical') as checks_failed,
        count(*) filter (where not is_success and severity <> 'critical') as checks_warned
    from check_results
    group by file_id
),

final as (
    select
        files.business_month as month,
        files.source,
        count(*) as files_delivered,
        count(*) filter (where files.status = 'loaded') as files_loaded,
        count(*) filter (where files.status = 'superseded') as files_superseded,
        count(*) filter (where files.status = 'skipped') as files_skipped,
        count(*) filter (where files.status = 'rejected') as files_rejected,
        count(*) filter (where files.status in ('loading', 'abandoned')) as files_unfinished,
        coalesce(sum(files.rows_read), 0)::bigint as rows_read,
        coalesce(sum(files.rows_loaded) filter (where files.status = 'loaded'), 0)::bigint
            as rows_loaded,
        coalesce(sum(files.rows_quarantined) filter (where files.status = 'loaded'), 0)::bigint
            as rows_quarantined,
        coalesce(sum(checks_per_file.checks_passed), 0)::bigint as checks_passed,
        coalesce(sum(checks_per_file.checks_failed), 0)::bigint as checks_failed,
        coalesce(sum(checks_per_file.checks_warned), 0)::bigint as checks_warned
    from files
    left join checks_per_file
        on files.file_id = checks_per_file.file_id
    group by
        files.business_month,
        files.source
)

select * from final
