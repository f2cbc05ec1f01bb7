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
--
-- A daily run checks the days of the files loaded since the run before it wrote the facts
-- (macros/test_latest_rows.sql): their raw partitions only, and a row of the five event
-- sources is a duplicate when its key's staged first delivery came before it (one probe of the
-- staging key's index, instead of ranking every delivery of a year). After a full refresh, and
-- with `--vars '{test_every_row: true}'`, every day is checked and the duplicates are counted
-- from `raw` alone, as above.
{%- set event_sources = [
    ('web', source('web', 'web_events'), ref('stg_web__events'), 'event_id'),
    ('app', source('app', 'app_events'), ref('stg_app__events'), 'event_id'),
    ('hotline', source('hotline', 'hotline_cdr'), ref('stg_hotline__calls'), 'call_id'),
    ('sms', source('sms', 'sms_hall'), ref('stg_sms__messages'), 'msg_id'),
    ('halls', source('halls', 'hall_txn'), ref('stg_halls__transactions'), 'txn_id'),
] %}
{%- set since = written_before_the_latest_run(ref('fct_interactions')) %}
{%- set checked_files = files_to_reconcile(since) if since is not none else none %}
with ledger as (
    select * from {{ source('audit', 'file_ledger') }}
    where status = 'loaded'
),

raw_rows as (
    {%- for name, raw, staged, key in event_sources %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    {%- if since is none %}
    select
        '{{ name }}' as source,
        _file_id as file_id,
        row_number() over (partition by {{ key }} order by _file_id, _line) > 1 as is_duplicate
    from {{ raw }}
    {%- else %}
    select
        '{{ name }}' as source,
        delivered._file_id as file_id,
        coalesce((staged.file_id, staged.line_no) < (delivered._file_id, delivered._line), false)
            as is_duplicate
    from {{ raw }} as delivered
    left join {{ staged }} as staged
        on delivered.{{ key }} = staged.{{ key }}
    where delivered._file_id in ({{ checked_files }})
    {%- endif %}
    {%- endfor %}
    union all
    select
        'stores',
        orders._file_id,
        row_number()
            over (
                partition by orders.platform, orders.order_no
                order by ledger.business_date desc, orders._file_id desc, orders._line desc
            )
        > 1
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
        count(*) filter (where is_duplicate) as duplicates
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
    {%- if since is not none %}
    where file_id in ({{ checked_files }})
    {%- endif %}
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

{% if since is not none -%}
checked_days as (
    -- the days of the files loaded since the run before the latest (their files are above)
    select distinct
        source,
        business_date
    from ledger
    where file_id in ({{ checked_files }})
),

{% endif -%}
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

select compared.*
from compared
{% if since is not none %}
inner join checked_days
    on
        compared.source = checked_days.source
        and compared.business_date = checked_days.business_date
{% endif %}
where
    compared.rows_read - compared.rows_quarantined <> compared.raw_rows
    or compared.raw_rows - compared.duplicates <> compared.fact_rows
