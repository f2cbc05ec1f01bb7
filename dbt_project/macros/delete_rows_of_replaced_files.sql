{#- An incremental fact keeps rows until they are replaced. A corrected re-delivery replaces a
    file's rows in raw (the earlier delivery is detached, its ledger status `superseded`); its own
    rows come back through the incremental filter (they are newly loaded), and this removes the
    rows of the replaced delivery that the correction no longer holds. -#}
{% macro delete_rows_of_replaced_files(relation) -%}
    {%- if is_incremental() -%}
        delete from {{ relation }}
        where file_id in (
            select file_id from {{ source('audit', 'file_ledger') }} where status <> 'loaded'
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
