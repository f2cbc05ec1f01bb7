{#- The identity components that a link added after `added_since` (a timestamptz literal) touched,
    as a query of `component`: links are timeless, so a new link can move every record of the
    components it joins. Read by the incremental fact (the records to re-read) and by the
    customer-incremental KPI tables (the customers whose records may have moved).

    A link seen again in a new record changes no component: only the links the graph did not hold
    (`added_at`, macros/incremental_identity.sql) are asked for. On a year of history most of a
    day's links are known already (a customer's app uid, phone and web visitor), and taking every
    link seen that day re-read the records of every customer active that day, in every month.
    After the graph was rebuilt whole (a replaced delivery, or its first build with `added_at`),
    every link counts as added; then the links loaded after `loaded_since` are taken, as before
    `added_at` existed.

    A hashed `in` of both ends of the links: a join on `node in (node_a, node_b)` runs as a nested
    loop. -#}
{% macro components_touched_since(added_since, loaded_since) -%}
    {%- set edges = ref('int_identity_edges') -%}
    {%- set column, since = 'added_at', added_since -%}
    {%- if execute and is_incremental() -%}
        {%- set rebuilt_whole_query -%}
            select coalesce(min(added_at) > {{ added_since }}, false) from {{ edges }}
        {%- endset -%}
        {%- if run_query(rebuilt_whole_query).columns[0].values()[0] -%}
            {%- set column, since = 'last_loaded_at', loaded_since -%}
        {%- endif -%}
    {%- endif -%}
    select touched.component
    from {{ ref('int_identity_components') }} as touched
    where touched.node in (
        select new_links.node_a
        from {{ edges }} as new_links
        where new_links.{{ column }} > {{ since }}
        union all
        select new_links.node_b
        from {{ edges }} as new_links
        where new_links.{{ column }} > {{ since }}
    )
{%- endmacro %}
