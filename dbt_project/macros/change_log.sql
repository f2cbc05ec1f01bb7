{#- The facts' change log (docs/mart.md, "The KPI totals and the facts' change log").

    fct_interactions and fct_hotline_calls are written with the incremental strategy
    `logged_delete_insert`: before a run replaces rows, it copies what they held into
    `intermediate.<fact>_changes`, one entry per key the run writes: `existed` and the row as it
    was, or `existed = false` (and only the key) for a new one. The post-hook that deletes the rows
    of replaced deliveries logs them the same way. int_kpi_month_totals reads the entries to
    update its sums by difference (the new rows less the old ones) instead of recomputing every
    month, and deletes the entries it has read. A full build of a fact starts its log with an
    entry that says so, and the KPI totals are then rebuilt whole. -#}

{% macro change_log_relation(relation) -%}
    {{ return(api.Relation.create(
        database=relation.database,
        schema=generate_schema_name('intermediate', none),
        identifier=relation.identifier ~ '_changes',
        type='table',
    )) }}
{%- endmacro %}

{#- The log's definition: a sequence number, whether the key existed, the fact's columns. -#}
{% macro create_change_log(relation, if_not_exists=false) -%}
    create table {{ 'if not exists' if if_not_exists }} {{ change_log_relation(relation) }} (
        change_id bigint generated always as identity primary key,
        existed boolean,
        like {{ relation }}
    )
{%- endmacro %}

{#- A fact's post-hook: a full build (or the first) starts a new log with one entry that says so
    (`existed` null, no key): what any row held before is unknown, and the KPI totals rebuild
    themselves whole. An incremental run keeps the entries not read yet (and makes the log of a
    fact built before logs existed). -#}
{% macro start_change_log(relation) -%}
    {%- if is_incremental() -%}
        {{ create_change_log(relation, if_not_exists=true) }}
    {%- else -%}
        drop table if exists {{ change_log_relation(relation) }};
        {{ create_change_log(relation) }};
        insert into {{ change_log_relation(relation) }} (existed) values (null)
    {%- endif -%}
{%- endmacro %}

{#- Log the rows of `relation` that `where` picks, as they are, before they are deleted. -#}
{% macro log_rows_before_delete(relation, where) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='quoted') | list -%}
    {{ create_change_log(relation, if_not_exists=true) }};
    insert into {{ change_log_relation(relation) }} (existed, {{ columns | join(', ') }})
    select true, {{ columns | join(', ') }}
    from {{ relation }}
    where {{ where }}
{%- endmacro %}

{#- dbt's delete+insert, after logging what each key held (the key alone when it is new). -#}
{% macro get_incremental_logged_delete_insert_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | list -%}
    {{ create_change_log(target, if_not_exists=true) }};
    insert into {{ change_log_relation(target) }} (existed, {{ columns | join(', ') }})
    select
        target.{{ key }} is not null,
        {%- for column in columns %}
        {% if column == adapter.quote(key) %}written{% else %}target{% endif %}.{{ column }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ arg_dict['temp_relation'] }} as written
    left join {{ target }} as target
        on written.{{ key }} = target.{{ key }};
    {{ get_incremental_delete_insert_sql(arg_dict) }}
{%- endmacro %}

{#- The newest entry of a fact's change log, as a literal read before the run: the entries up to
    it are what this run of the KPI totals reads and then deletes. None when the log cannot say
    what changed: it does not exist (a fact built before logs existed and not refreshed since), or
    it starts with a full build of the fact that the totals have not seen. -#}
{% macro change_log_newest(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not change_log_exists(relation) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select coalesce(max(change_id), 0), bool_or(existed is null)
        from {{ change_log_relation(relation) }}
    {%- endset -%}
    {%- set newest, rebuilt = run_query(query).rows[0] -%}
    {{ return(none if rebuilt else newest) }}
{%- endmacro %}

{#- The KPI totals' post-hook: delete the entries of a fact's change log, which the run read. (All
    of them: the facts are written earlier in the same dbt run, and one dbt run at a time writes
    the facts and the totals.) -#}
{% macro forget_read_changes(relation) -%}
    {%- if change_log_exists(relation) -%}
        delete from {{ change_log_relation(relation) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Whether a fact's change log exists, asked of the database: dbt's relation cache, filled when
    a run starts, does not know a log that a post-hook of the same run created (on a first build,
    the totals' post-hook then left the full build's marker behind, and the next day summed every
    month again: 33 s of 12 months where the day after took 1.5 s). -#}
{% macro change_log_exists(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set log = change_log_relation(relation) -%}
    {%- set query -%}
        select to_regclass('{{ log.schema }}.{{ log.identifier }}') is not null
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}
