{#- The distinct values of an indexed column, as a query: a skip scan of the index, one probe per
    value (PostgreSQL's `select distinct` reads every row). Used where a table holds millions of
    rows and a few hundred values: the files a staging table holds, the months a KPI table holds. -#}
{% macro distinct_by_skip_scan(relation, column) -%}
    with recursive seen as (
        (select probe.{{ column }} from {{ relation }} as probe order by probe.{{ column }} limit 1)
        union all
        select (
            select probe.{{ column }}
            from {{ relation }} as probe
            where probe.{{ column }} > seen.{{ column }}
            order by probe.{{ column }}
            limit 1
        )
        from seen
        where seen.{{ column }} is not null
    )

    select seen.{{ column }}
    from seen
    where seen.{{ column }} is not null
{%- endmacro %}
