{#- What an incremental fact has seen, as a timestamptz literal read before the run (index probes):
    `loaded_at`, the load time of its newest row; `look_back_from`, midnight (Asia/Shanghai) of
    its newest business day less `lookback_days`. A filter on a literal is planned with its real
    selectivity (an index scan of the few rows it keeps) where a sub-query would be planned as if
    it kept a third of the table. '-infinity' when the table is empty or not built yet. -#}
{% macro fact_watermark(relation, which) -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}
            {%- if which == 'loaded_at' -%}
                select max(loaded_at)::text from {{ relation }}
            {%- else -%}
                select
                    ((max(occurred_date) - {{ var('lookback_days') }})::timestamp
                    at time zone 'Asia/Shanghai')::text
                from {{ relation }}
            {%- endif -%}
        {%- endset -%}
        '{{ run_query(query).columns[0].values()[0] or "-infinity" }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- The newest `dbt_updated_at` of an incremental table, as a literal read before the run (an index
    probe), for the same reason. -#}
{% macro newest_update(relation) -%}
    {%- if execute -%}
        {%- set newest -%}
            select coalesce(max(dbt_updated_at), '-infinity')::text from {{ relation }}
        {%- endset -%}
        '{{ run_query(newest).columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- The last select of an incremental fact: on an incremental run, only the rows that are new or
    whose values differ from the row already in the table (every column but `dbt_updated_at`).
    The incremental filter re-reads more than changes (the look-back, every record of an
    identity component a new link touched); writing only what changed keeps `dbt_updated_at`
    meaning "changed in that run", which the month-incremental KPI tables rely on
    (macros/kpi_months.sql).
    `recent_column` >= `recent_from` holds for most of the rows the run re-reads (the
    look-back): the table's rows of those days are read once through it and hashed. A record of
    those days that is not among them is written without a look-up: the table has no row with its
    key (a new record, most of a day's) or has one of another day, which differs. A record of an
    earlier day is looked up by key, one index probe each (those re-read for a link or a CRM
    version, spread over the history). The figures: docs/mart.md, "Incremental facts". -#}
{% macro changed_rows_only(relation, cte, key, recent_column, recent_from) -%}
    {%- if execute and is_incremental() -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name != 'dbt_updated_at' -%}
                {%- do columns.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor %}
        {%- set row_of = {} -%}
        {%- for alias in [cte, 'recent_rows', 'existing'] -%}
            {%- set values = [] -%}
            {%- for column in columns %}{% do values.append(alias ~ '.' ~ column) %}{% endfor -%}
            {%- do row_of.update({alias: '(' ~ values | join(', ') ~ ')'}) -%}
        {%- endfor %}
select {{ cte }}.*
from {{ cte }}
left join (
    select existing.*
    from {{ relation }} as existing
    where existing.{{ recent_column }} >= {{ recent_from }}
) as recent_rows
    on {{ cte }}.{{ key }} = recent_rows.{{ key }}
where
    case
        when recent_rows.{{ key }} is not null
            then {{ row_of[cte] }} is distinct from {{ row_of['recent_rows'] }}
        when {{ cte }}.{{ recent_column }} >= {{ recent_from }}
            then true
        else not exists (
            select
            from {{ relation }} as existing
            where
                existing.{{ key }} = {{ cte }}.{{ key }}
                and {{ row_of[cte] }} is not distinct from {{ row_of['existing'] }}
        )
    end
    {%- else %}
select * from {{ cte }}
    {%- endif -%}
{%- endmacro %}
