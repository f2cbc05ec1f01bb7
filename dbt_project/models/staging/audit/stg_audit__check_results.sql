-- Great Expectations results, one row per expectation per file checked.
with check_results as (
    select * from {{ source('audit', 'check_results') }}
),

final as (
    select
        file_id,
        source,
        file_name,
        expectation,
        column_name,
        severity,
        success as is_success,
        checked_at
    from check_results
)

select * from final
