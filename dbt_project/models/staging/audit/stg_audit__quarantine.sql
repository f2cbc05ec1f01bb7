-- Rows put aside by a row rule: file, line, rule and message. The raw text stays in audit (it may
-- hold phone numbers).
with quarantine as (
    select * from {{ source('audit', 'quarantine') }}
),

final as (
    select
        file_id,
        source,
        file_name,
        line_no,
        rule,
        message,
        quarantined_at
    from quarantine
)

select * from final
