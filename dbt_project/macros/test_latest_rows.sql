{#- The data tests of the incremental marts check the rows the latest run wrote.

    dbt_project.yml gives the tests of the facts and KPI tables (models/marts/channel and kpi) and
    of the incremental identity graph (models/intermediate/identity) the `where` placeholder
    `__written_by_the_latest_run__`. On a relation with a `dbt_updated_at`
    column (the incremental facts, the survey view over them, the month-incremental KPI tables)
    it becomes "the rows of the newest `dbt_updated_at`": after a full refresh that is every row;
    after a daily run, the rows that run wrote, so the daily tests do not read a year of history
    the earlier runs already checked. Unique keys are also unique indexes on those tables, so a
    duplicate against an older row cannot get in. Any other model's tests read every row, as do
    all tests with `--vars '{test_every_row: true}'` (docs/mart.md, "Tests on a year of
    history"). -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__written_by_the_latest_run__' -%}
        {%- set where = '' -%}
        {%- if execute and not var('test_every_row', false) -%}
            {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') -%}
            {%- if 'dbt_updated_at' in columns | list -%}
                {%- set where -%}
                    dbt_updated_at = (select max(latest.dbt_updated_at) from {{ relation }} as latest)
                {%- endset -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
