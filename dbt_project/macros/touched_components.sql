{#- The identity components that a link loaded after `since` (a timestamptz literal) touched, as a
    query of `component`: links are timeless, so a new link can move every record of the
    components it joins. Read by the incremental fact (the records to re-read) and by the
    customer-incremental KPI table (the customers whose records may have moved). A hashed `in` of
    both ends of the new links: a join on `node in (node_a, node_b)` runs as a nested loop. -#}
{% macro components_touched_since(since) -%}
    select touched.component
    from {{ ref('int_identity_components') }} as touched
    where touched.node in (
        select new_links.node_a
        from {{ ref('int_identity_edges') }} as new_links
        where new_links.last_loaded_at > {{ since }}
        union all
        select new_links.node_b
        from {{ ref('int_identity_edges') }} as new_links
        where new_links.last_loaded_at > {{ since }}
    )
{%- endmacro %}
