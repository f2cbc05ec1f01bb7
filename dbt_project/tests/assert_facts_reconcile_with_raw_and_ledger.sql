-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- Nothing is lost or invented between the files and the fact, per source and business day
-- (the business date of the delivery a row came from):
--   rows read (ledger) - rows quarantined (ledger) = rows in raw, and
--   rows in raw - duplicates = rows in fct_interactions,
-- where duplicates are counted here, independently of staging, with the keys of kpis.md: web by
-- event_id, app by id, hotline by call id, SMS by msg_id, halls by txn_id (the first delivery
-- kept), stores by platform + order number (the latest status kept). Fails with the days that
-- do not add up.
with ledger as (
    select * from {{ source('audit', 'file_ledger') }}
    where status = 'loaded'
),

raw_rows as (
    select
        'web' as source,
        event_id as record_id,
        _file_id as file_id,
        row_number() over (partition by event_id order by _file_id, _line) as keep_rank
    from {{ source('web', 'web_events') }}
    union all
    select
        'app',
        event_id,
        _file_id,
        row_number() over (partition by event_id order by _file_id, _line)
    from {{ source('app', 'app_events') }}
    union all
    select
        'hotline',
        call_id,
        _file_id,
        row_number() over (partition by call_id order by _file_id, _line)
    from {{ source('hotline', 'hotline_cdr') }}
    union all
    select
        'sms',
        msg_id,
        _file_id,
        row_number() over (partition by msg_id order by _file_id, _line)
    from {{ source('sms', 'sms_hall') }}
    union all
    select
        'halls',
        txn_id,
        _file_id,
        row_number() over (partition by txn_id order by _file_id, _line)
    from {{ source('halls', 'hall_txn') }}
    union all
    select
        'stores',
        orders.platform || ':' || orders.order_no,
        orders._file_id,
        row_number()
            over (
                partition by orders.platform, orders.order_no
                order by ledger.business_date desc, orders._file_id desc, orders._line desc
            )
    from {{ source('stores', 'store_orders') }} as orders
    inner join ledger
        on orders._file_id = ledger.file_id
),

raw_by_file as (
    -- by file first, then by day through the ledger: joined before the count, the 17 million
    -- rows of a year were sorted by file for a merge join (5 s of 25)
    select
        source,
        file_id,
        count(*) as raw_rows,
        count(*) filter (where keep_rank > 1) as duplicates
    from raw_rows
    group by
        source,
        file_id
),

raw_by_day as (
    select
        raw_by_file.source,
        ledger.business_date,
        sum(raw_by_file.raw_rows) as raw_rows,
        sum(raw_by_file.duplicates) as duplicates
    from raw_by_file
    inner join ledger
        on raw_by_file.file_id = ledger.file_id
    group by
        raw_by_file.source,
        ledger.business_date
),

ledger_by_day as (
    select
        source,
        business_date,
        sum(rows_read) as rows_read,
        sum(rows_quarantined) as rows_quarantined
    from ledger
    where source <> 'crm'
    group by
        source,
        business_date
),

facts_by_file as (
    -- the same for the facts (joined first, their 17 million rows were hashed: 5 s)
    select
        source,
        file_id,
        count(*) as fact_rows
    from {{ ref('fct_interactions') }}
    group by
        source,
        file_id
),

facts_by_day as (
    select
        facts_by_file.source,
        ledger.business_date,
        sum(facts_by_file.fact_rows) as fact_rows
    from facts_by_file
    inner join ledger
        on facts_by_file.file_id = ledger.file_id
    group by
        facts_by_file.source,
        ledger.business_date
),

compared as (
    select
        coalesce(ledger_by_day.source, raw_by_day.source, facts_by_day.source) as source,
        coalesce(ledger_by_day.business_date, raw_by_day.business_date, facts_by_day.business_date)
            as business_date,
        coalesce(ledger_by_day.rows_read, 0) as rows_read,
        coalesce(ledger_by_day.rows_quarantined, 0) as rows_quarantined,
        coalesce(raw_by_day.raw_rows, 0) as raw_rows,
        coalesce(raw_by_day.duplicates, 0) as duplicates,
        coalesce(facts_by_day.fact_rows, 0) as fact_rows
    from ledger_by_day
    full outer join raw_by_day
        on
            ledger_by_day.source = raw_by_day.source
            and ledger_by_day.business_date = raw_by_day.business_date
    full outer join facts_by_day
        on
            coalesce(ledger_by_day.source, raw_by_day.source) = facts_by_day.source
            and coalesce(ledger_by_day.business_date, raw_by_day.business_date)
            = facts_by_day.business_date
)

select *
from compared
where
    rows_read - rows_quarantined <> raw_rows
    or raw_rows - duplicates <> fact_rows
