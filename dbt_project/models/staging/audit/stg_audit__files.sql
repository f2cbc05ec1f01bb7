-- Every delivery of every export file in the loader's ledger, with its outcome and the month of
-- its business date.
with file_ledger as (
    select * from {{ source('audit', 'file_ledger') }}
),

final as (
    select
        file_id,
        source,
        file_name,
        business_date,
        date_trunc('month', business_date)::date as business_month,
        status,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rule as rejection_rule,
        reason as rejection_reason,
        duplicate_of as duplicate_of_file_id,
        superseded_by as superseded_by_file_id,
        started_at,
        finished_at
    from file_ledger
)

select * from final
