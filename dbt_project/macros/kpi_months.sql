{#- Month-incremental KPI tables (docs/mart.md, "Incremental KPI tables").

    A KPI table is a function of the months it covers: each row of month M is computed from the
    records of M (the preference score also from the three months before). The records a run of
    the facts rewrote reach the KPI tables row by row: int_kpi_month_totals by difference, through
    the facts' change logs (macros/change_log.sql), the customer-incremental tables customer by
    customer (macros/kpi_customers.sql). What is rebuilt by whole months (delete+insert by month,
    or the pre-hook's delete), found through indexes:

    * months the table does not hold yet (records or calls the facts wrote in them);
    * CRM versions delivered (int_kpi_month_totals): the active customers at a month end are read
      from the customer history, so every month from the one the new version starts to hold (for
      a customer's first version: the month of its open date);
    * deliveries replaced by a correction (the customer-incremental tables): the rows they held
      are deleted from the facts, which leaves no trace there, so the months of the replaced
      file's business date and the look-back before it.

    "Since" is the newest `dbt_updated_at` of the KPI table itself, less the var
    `kpi_rebuild_margin` (an hour) for the CRM versions and replaced deliveries, whose times are
    load times: a file that finished loading while the previous run was between the facts and this
    table is caught by the next run. (The facts' `dbt_updated_at` needs no margin: they are
    written earlier in the same dbt run.) Rebuilding a month more than needed costs time, never
    correctness. A full refresh, a first build, or a run after the facts were refreshed in full
    computes every month. kpi_monthly rebuilds the months whose totals changed
    (`kpi_months_written`).

    Not watched: the seeds and definitions (kpi_targets, business_types, preference_points...);
    after changing one, run `channel-dw dbt build --full-refresh -s int_kpi_month_totals
    marts.kpi`. A month whose every record went away (each of its deliveries replaced by one
    without records in it) keeps its rows until a full refresh.
-#}

{#- The months (first days, as 'YYYY-MM-DD' strings) that this run rebuilds whole: none for a full
    build (every month), a list for an incremental one (possibly empty). `months_after`: how many
    months after a changed month also depend on it (the preference score reads three before).
    Every other change reaches a KPI table row by row:
    * `by_customer=false`, int_kpi_month_totals: the records and calls the facts rewrote or
      deleted arrive through the facts' change log (macros/change_log.sql); whole are only the
      months the table does not hold yet and those of new CRM versions (the active customers at
      a month's end);
    * `by_customer=true`, a table of one row per customer that rebuilds the customers whose
      records or CRM versions changed (macros/kpi_customers.sql): whole are only the months of
      replaced deliveries and the months the table does not hold yet. -#}
{% macro kpi_months_to_rebuild(relation, months_after=0, by_customer=false) -%}
    {#- Parsing records what the query below reads as the model's dependencies; a full build
        (and a unit test, which has inputs for the model's own references only) never reads it. -#}
    {%- if not execute -%}
        {%- do ref('fct_interactions') -%}
        {%- do ref('fct_hotline_calls') -%}
        {%- do ref('int_customer_history') -%}
        {%- do source('audit', 'file_ledger') -%}
    {%- endif -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if kpi_facts_rewritten_whole(relation) -%}
        {#- rebuilt whole, as kpi_customers_to_rebuild says (macros/kpi_customers.sql) -#}
        {{ return(none) }}
    {%- endif -%}
    {%- set interactions = ref('fct_interactions') -%}
    {%- set hotline_calls = ref('fct_hotline_calls') -%}
    {%- set history = ref('int_customer_history') -%}
    {%- set ledger = source('audit', 'file_ledger') -%}
    {#- when the table was last built, as a literal (macros/fact_watermark.sql) -#}
    {%- set built_at = newest_update(relation) -%}
    {%- set held_months = kpi_table_months(relation) -%}
    {%- set query -%}
        with seen as (
            select {{ built_at }} - interval '{{ var("kpi_rebuild_margin") }}' as at
        ),

        newest as (
            -- through the index on occurred_date (there is none on occurred_month)
            select date_trunc('month', max(occurred_date))::date as month from {{ interactions }}
        ),

        changed as (
            select distinct interactions.occurred_month as month
            from {{ interactions }} as interactions
            where
                interactions.dbt_updated_at > {{ built_at }}
                -- only a month the table does not hold yet is rebuilt whole. The months it holds
                -- go in as a literal: a `not exists` probe of the table ran, on 13 million rows,
                -- as a scan of its unique index for each new record (cancelled after 30
                -- minutes; the literal takes 115 ms)
                and interactions.occurred_month <> all({{ held_months }})
            {%- if not by_customer %}
            -- (the customer-incremental tables read no hotline calls)
            union
            select distinct calls.call_month
            from {{ hotline_calls }} as calls
            where
                calls.dbt_updated_at > {{ built_at }}
                and calls.call_month <> all({{ held_months }})
            {%- else %}
            -- the rows of replaced deliveries (the KPI totals have them from the change log)
            union
            select distinct date_trunc('month', replaced_days.day)::date
            from {{ ledger }} as replaced
            inner join {{ ledger }} as correction
                on replaced.superseded_by = correction.file_id
            cross join lateral generate_series(
                replaced.business_date - {{ var('lookback_days') }},
                replaced.business_date,
                interval '1 day'
            ) as replaced_days (day)
            where
                replaced.status = 'superseded'
                and correction.finished_at > (select seen.at from seen)
            {%- endif %}
            {%- if not by_customer %}
            union
            select distinct crm_months.month::date
            from (
                select min(
                    case
                        when version_no = 1 then open_date::timestamp
                        else (valid_from at time zone 'Asia/Shanghai')
                    end
                ) as starts
                from {{ history }}
                where loaded_at > (select seen.at from seen)
            ) as crm_change
            cross join lateral generate_series(
                date_trunc('month', crm_change.starts),
                (select newest.month from newest),
                interval '1 month'
            ) as crm_months (month)
            where crm_change.starts is not null
            {%- endif %}
        ),

        with_later as (
            select distinct (changed.month + make_interval(months => later.n))::date as month
            from changed
            cross join generate_series(0, {{ months_after }}) as later (n)
        )

        select coalesce(string_agg(with_later.month::text, ',' order by with_later.month), '')
        from with_later
        where with_later.month <= (select newest.month from newest)
    {%- endset -%}
    {%- set listed = run_query(query).columns[0].values()[0] -%}
    {{ return(listed.split(',') if listed else []) }}
{%- endmacro %}

{#- A filter on a date column to the months rebuilt and the `months_before` months before each:
    `true` for a full build; for an incremental one a date range per run of consecutive months, so
    that the facts' date index serves it and no row is looked up in a list (a semi-join on the
    month of every row cost kpi_monthly 2 s per month rebuilt). -#}
{% macro in_rebuilt_months(date_column, months, months_before=0) -%}
    {%- if months is none -%}
        true
    {%- elif months | length == 0 -%}
        false
    {%- else -%}
        {#- months as indexes (year * 12 + month - 1), merged into runs [first, last] -#}
        {%- set runs = [] -%}
        {%- for month in months | sort -%}
            {%- set index = (month[:4] | int) * 12 + (month[5:7] | int) - 1 -%}
            {%- if runs and index - months_before <= runs[-1]['last'] + 1 -%}
                {%- do runs[-1].update({'last': index}) -%}
            {%- else -%}
                {%- do runs.append({'first': index - months_before, 'last': index}) -%}
            {%- endif -%}
        {%- endfor -%}
        ({% for run in runs -%}
            {%- set after = run['last'] + 1 -%}
            ({{ date_column }} >= '{{ "%04d-%02d-01" | format(run['first'] // 12, run['first'] % 12 + 1) }}'::date
            and {{ date_column }} < '{{ "%04d-%02d-01" | format(after // 12, after % 12 + 1) }}'::date)
            {{- " or " if not loop.last }}
        {%- endfor %})
    {%- endif -%}
{%- endmacro %}

{#- What a customer-incremental KPI table reads of `relation` (a table with `customer_id`):
    the rows of the months rebuilt whole (`months`, and the `months_before` months before each)
    and, on an incremental run, those of the customers in the CTE `rebuilt_customers` from their
    from_month (less `months_before`). -#}
{% macro rows_to_rebuild(relation, date_column, month_column, months, customers, months_before=0) -%}
    select * from {{ relation }}
    where {{ in_rebuilt_months(date_column, months, months_before) }}
    {%- if customers is not none %}
    union all
    select customer_rows.*
    from {{ relation }} as customer_rows
    inner join rebuilt_customers
        on
            customer_rows.customer_id = rebuilt_customers.customer_id
            and customer_rows.{{ month_column }}
            >= rebuilt_customers.from_month - interval '{{ months_before }} months'
    where not {{ in_rebuilt_months('customer_rows.' ~ date_column, months, months_before) }}
    {%- endif %}
{%- endmacro %}

{#- kpi_monthly's months to rebuild: none for a full build (every month), else those in which
    `totals` (int_kpi_month_totals, written earlier in the run) has sums written since the table
    was last built (an index probe of its `dbt_updated_at`). -#}
{% macro kpi_months_written(totals, relation) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select coalesce(string_agg(distinct month::text, ','), '')
        from {{ totals }}
        where dbt_updated_at > {{ newest_update(relation) }}
    {%- endset -%}
    {%- set listed = run_query(query).columns[0].values()[0] -%}
    {{ return(listed.split(',') if listed else []) }}
{%- endmacro %}
