{#- Incremental staging (docs/mart.md, "Incremental staging").

    A staging table of a channel keeps one row per key: the first delivery in load order. A run
    reads only the raw partitions (one per loaded file) of the files the table has not seen yet,
    and lets their rows compete with the rows already staged for the same keys. When a staged row
    came from a delivery that has since been replaced by a correction, the keys it held may now
    belong to another delivery anywhere in the history, so that run reads the whole source again
    (a correction is rare; a full read gives exactly what a full refresh gives), and the post-hook
    `delete_rows_of_replaced_files` removes the keys no delivery holds any more.

    `staging_files_to_read(source_name)` returns the file ids to read, or none for every file. The
    ids are put in the query as literals, so that PostgreSQL prunes the other partitions while it
    plans. -#}
{% macro staging_files_to_read(source_name) -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set replaced -%}
        select exists (
            select 1
            from {{ this }} as staged
            where staged.file_id in (
                select file_ledger.file_id
                from {{ source('audit', 'file_ledger') }} as file_ledger
                where
                    file_ledger.source = '{{ source_name }}'
                    and file_ledger.status <> 'loaded'
            )
        )
    {%- endset -%}
    {%- if run_query(replaced).columns[0].values()[0] -%}
        {{ log(this ~ ": a staged delivery was replaced, reading every file of " ~ source_name) }}
        {{ return(none) }}
    {%- endif -%}
    {#- the files staged so far: a skip scan of the file_id index (macros/skip_scan.sql) -#}
    {%- set unseen -%}
        select file_ledger.file_id
        from {{ source('audit', 'file_ledger') }} as file_ledger
        where
            file_ledger.source = '{{ source_name }}'
            and file_ledger.status = 'loaded'
            and file_ledger.file_id not in ({{ distinct_by_skip_scan(this, 'file_id') }})
        order by file_ledger.file_id
    {%- endset -%}
    {{ return(run_query(unseen).columns[0].values() | map('int') | list) }}
{%- endmacro %}

{#- The `where` of a staging model's raw import CTE: its files to read (see above). -#}
{% macro staged_files_filter(files, file_id_column='_file_id') -%}
    {%- if files is not none %}
    where {{ file_id_column }} in ({{ files | join(', ') if files else 'null' }})
    {%- endif -%}
{%- endmacro %}

{#- The indexes of an incremental staging table (dbt's `indexes` config: made with the table, by a
    full refresh too): its key (the de-duplication and dbt's delete+insert), its files (the skip
    scan above, the deletion of replaced deliveries), its load time and event time, the time of
    the run that wrote a row (the daily tests' filter, macros/test_latest_rows.sql), and the
    `<prefix>:<column>` expressions by which int_interactions_unioned shows the key and the
    identifiers (the incremental facts' filter looks records up through them). -#}
{% macro staging_indexes(key_column, time_column, nodes=[]) -%}
    {%- set indexes = [
        {'columns': [key_column], 'unique': true},
        {'columns': ['file_id']},
        {'columns': ['loaded_at']},
        {'columns': [time_column]},
        {'columns': ['dbt_updated_at']},
    ] -%}
    {%- for prefix, column in nodes -%}
        {%- do indexes.append({'columns': ["('" ~ prefix ~ ":' || " ~ column ~ ")"]}) -%}
    {%- endfor -%}
    {{ return(indexes) }}
{%- endmacro %}

{#- The CTEs that keep the first delivery of every key (`ranked`, `delivery_no = 1` is it): the
    rows of `typed` (the files read), in an incremental run together with the rows already staged
    for the same keys, ranked by file and line. Ends with a comma: the model's `final` follows. -#}
{% macro first_delivery_ctes(files, key_column) -%}
{% if files is not none %}
staged as (
    -- the deliveries staged before, of the keys the new files carry
    select * from {{ this }}
    where {{ key_column }} in (select typed.{{ key_column }} from typed)
),
{% endif %}

deliveries as (
    -- this run's rows carry its time: the daily tests read the rows of the newest dbt_updated_at
    -- (macros/test_latest_rows.sql); a key staged before that keeps its delivery keeps its time
    select
        typed.*,
        now() as dbt_updated_at
    from typed
    {% if files is not none %}
    union all
    select * from staged
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by {{ key_column }} order by file_id, line_no) as delivery_no
    from deliveries
),
{%- endmacro %}

{#- A staging table built before its rows carried `dbt_updated_at` (2026-12-03) gets the column
    (null: those rows were tested when they were written) and its index in place, so that a daily
    run after the upgrade needs no full refresh. A pre-hook of the incremental staging models. -#}
{% macro staging_add_update_time(relation) -%}
    {%- if is_incremental() -%}
    do $upgrade$
    begin
        if not exists (
            select 1
            from information_schema.columns
            where
                table_schema = '{{ relation.schema }}'
                and table_name = '{{ relation.identifier }}'
                and column_name = 'dbt_updated_at'
        ) then
            alter table {{ relation }} add column dbt_updated_at timestamptz;
            create index on {{ relation }} (dbt_updated_at);
        end if;
    end
    $upgrade$
    {%- endif -%}
{%- endmacro %}
