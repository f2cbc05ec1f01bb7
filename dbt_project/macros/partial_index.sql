{#- A post-hook: an index on `column` over the rows where it is not null (or where `where` holds),
    unless the table has one on that column for a part of its rows already (dbt's `indexes` config
    has no `where`, and builds its indexes only with the table). The name is PostgreSQL's choice:
    on a full refresh the table being replaced still holds one of the same definition until the run
    ends. -#}
{% macro create_partial_index(relation, column, where=none) -%}
    do $$
    begin
        if not exists (
            select 1
            from pg_indexes
            where
                schemaname = '{{ relation.schema }}'
                and tablename = '{{ relation.identifier }}'
                and indexdef like '%({{ column }}) WHERE %'
        ) then
            create index on {{ relation }} ({{ column }})
            where {{ where or column ~ ' is not null' }};
        end if;
    end
    $$
{%- endmacro %}
