{#- The incremental identity graph (docs/mart.md, "Incremental identity graph").

    Links are timeless and only ever added: a link is an identifier pair some delivered record
    carried, and a delivery's records stay until a correction replaces the delivery. So a daily
    run adds the links of the records loaded since the graph was last built, recomputes the
    components the new links touched (every other component keeps its nodes and label) and
    resolves those components' identifiers again. The one way a link can go is a replaced
    delivery (its records leave staging): a run that finds a correction loaded since the table
    was last built rebuilds that table whole.

    `identity_rebuilt_whole(relation, column)`: true for a full build, and on an incremental run
    when a delivery of any source was replaced since `relation` was last built (its newest
    `dbt_updated_at`, less the var `kpi_rebuild_margin`), or when the table has no `column` yet
    (built by an older version of the model). Corrections are counted up to the run's start only,
    so that the model and its pre-hook, rendered a moment apart, give the same answer; a later one
    is found by the next run through the margin. -#}
{% macro identity_rebuilt_whole(relation, column) -%}
    {%- if not execute -%}
        {%- do source('audit', 'file_ledger') -%}
    {%- endif -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if column not in columns or 'dbt_updated_at' not in columns -%}
        {{ log(relation ~ ": built by an older version of the model, rebuilt whole", info=true) }}
        {{ return(true) }}
    {%- endif -%}
    {%- set query -%}
        select exists (
            select 1
            from {{ source('audit', 'file_ledger') }} as replaced
            inner join {{ source('audit', 'file_ledger') }} as correction
                on replaced.superseded_by = correction.file_id
            where
                replaced.status = 'superseded'
                and correction.finished_at
                > {{ newest_update(relation) }} - interval '{{ var("kpi_rebuild_margin") }}'
                and correction.finished_at <= '{{ run_started_at.isoformat() }}'::timestamptz
        )
    {%- endset -%}
    {%- set whole = run_query(query).columns[0].values()[0] -%}
    {%- if whole -%}
        {{ log(relation ~ ": a delivery was replaced since the last build, rebuilt whole", info=true) }}
    {%- endif -%}
    {{ return(whole) }}
{%- endmacro %}

{#- The pre-hook of an incremental identity table: empty it when this run rebuilds it whole. -#}
{% macro empty_when_rebuilt_whole(relation, column) -%}
    {%- if execute and is_incremental() and identity_rebuilt_whole(relation, column) -%}
        delete from {{ relation }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The load time from which the edges' incremental run reads records, as a literal read before
    the run (an index probe): the newest link's last load time less the var `kpi_rebuild_margin`,
    so a file that was still loading at the last build (its rows carry its load's start) is read.
    Re-reading a record adds nothing: a link is a pair, not a count. -#}
{% macro links_loaded_since(relation) -%}
    {%- set query -%}
        select coalesce(max(last_loaded_at), '-infinity')::text from {{ relation }}
    {%- endset -%}
    ('{{ run_query(query).columns[0].values()[0] }}'::timestamptz
    - interval '{{ var("kpi_rebuild_margin") }}')
{%- endmacro %}

{#- `column` among the nodes of the CTE `nodes_cte` (its column `node`) on an incremental run;
    `true` when the table is rebuilt whole. A hashed `in`, not `= any(array(...))`: the set can
    hold a hundred thousand identifiers (a day on top of one month links most of the day's app
    uids for the first time), and `= any` of a computed array compares each row it is asked
    about with every value (int_identities_resolved took 31 s on such a day). -#}
{% macro in_scope(column, nodes_cte, whole) -%}
    {%- if whole -%}
        true
    {%- else -%}
        {{ column }} in (select {{ nodes_cte }}.node from {{ nodes_cte }})
    {%- endif -%}
{%- endmacro %}
