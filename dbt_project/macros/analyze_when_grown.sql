{#- The post-hook of the incremental staging tables: `analyze` the table when this run wrote more
    of it than autovacuum lets change before it analyzes a table itself (50 rows and a tenth of
    the table, PostgreSQL's defaults), or when it was never analyzed; otherwise leave it to
    autovacuum. A day's rows are well under a percent of a year of history, and the plans that
    read a day's rows (the run's `dbt_updated_at`, the newest load and event times) are estimated
    from the indexes' actual ends, not from the statistics' histograms. The rows this run wrote
    are those of its transaction's time (`now()`, the `dbt_updated_at` of macros/incremental_staging.sql),
    counted through their index. -#}
{% macro analyze_when_grown(relation) -%}
    {%- if is_incremental() -%}
    do $analyze$
    declare
        analyzed_rows real := (select reltuples from pg_class where oid = '{{ relation }}'::regclass);
    begin
        if analyzed_rows < 0 or (
            select count(*) from {{ relation }} where dbt_updated_at = now()
        ) > 50 + 0.1 * analyzed_rows then
            analyze {{ relation }};
        end if;
    end
    $analyze$
    {%- else -%}
    analyze {{ relation }}
    {%- endif -%}
{%- endmacro %}
