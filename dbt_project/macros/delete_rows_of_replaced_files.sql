{#- An incremental fact keeps rows until they are replaced. A corrected re-delivery replaces a
    file's rows in raw (the earlier delivery is detached, its ledger status `superseded`); its own
    rows come back through the incremental filter (they are newly loaded), and this removes the
    rows of the replaced delivery that the correction no longer holds. `logged`: copy them into
    the table's change log first (macros/change_log.sql). -#}
{% macro delete_rows_of_replaced_files(relation, logged=false) -%}
    {%- if is_incremental() -%}
        {%- set replaced -%}
            file_id in (
                select file_id from {{ source('audit', 'file_ledger') }} where status <> 'loaded'
            )
        {%- endset -%}
        {%- if logged -%}
            {{ log_rows_before_delete(relation, replaced) }};
        {%- endif %}
        delete from {{ relation }}
        where {{ replaced }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
