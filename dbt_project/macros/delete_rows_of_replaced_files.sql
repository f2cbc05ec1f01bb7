{#- An incremental fact keeps rows until they are replaced. A corrected re-delivery replaces a
    file's rows in raw (the earlier delivery is detached, its ledger status `superseded`); its own
    rows come back through the incremental filter (they are newly loaded), and this removes the
    rows of the replaced delivery that the correction no longer holds. `logged`: copy them into
    the table's change log first (macros/change_log.sql).

    The files are found first (`files_no_longer_loaded`) and go into the statements as literals:
    with the ledger as a sub-select, the planner expected a tenth of the table to match (its
    estimate for the several hundred files that are not loaded: skipped re-deliveries, rejected
    files), and the log's insert and the delete each read the 17 M facts of a year whole, 5.7 s of
    every daily run (3.1 s for the hotline calls) that deleted nothing. -#}
{% macro delete_rows_of_replaced_files(relation, logged=false) -%}
    {%- set files = files_no_longer_loaded(relation) if is_incremental() else [] -%}
    {%- if files -%}
        {%- set replaced = 'file_id in (' ~ (files | join(', ')) ~ ')' -%}
        {%- if logged -%}
            {{ log_rows_before_delete(relation, replaced) }};
        {%- endif %}
        delete from {{ relation }}
        where {{ replaced }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- The files of the ledger that are not loaded (a replaced delivery, `superseded`) of which
    `relation` still holds rows: one probe of its `file_id` index each. -#}
{% macro files_no_longer_loaded(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select ledger.file_id
        from {{ source('audit', 'file_ledger') }} as ledger
        where
            ledger.status <> 'loaded'
            and exists (select from {{ relation }} as held where held.file_id = ledger.file_id)
        order by ledger.file_id
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | map('int') | list) }}
{%- endmacro %}
