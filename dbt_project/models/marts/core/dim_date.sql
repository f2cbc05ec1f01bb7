-- One row per calendar day (Asia/Shanghai business days), from var calendar_start to calendar_end.
with days as (
    select generate_series(
        '{{ var("calendar_start") }}'::date,
        '{{ var("calendar_end") }}'::date,
        interval '1 day'
    )::date as date_day
),

final as (
    select
        date_day,
        date_trunc('month', date_day)::date as month_start,
        to_char(date_day, 'YYYY-MM') as calendar_year_month,
        extract(year from date_day)::integer as calendar_year,
        extract(quarter from date_day)::integer as calendar_quarter,
        extract(month from date_day)::integer as calendar_month,
        extract(day from date_day)::integer as day_of_month,
        extract(isodow from date_day)::integer as iso_day_of_week,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from days
)

select * from final
