{#
    The active customers of kpis.md: ACTIVE in the CRM version that held at the end of the month
    (Asia/Shanghai), by that version's region; a customer opened after the month is not counted.
    months: a relation or CTE with a `month` column (first day); history: int_customer_history
    or a CTE over it. extra_columns: more columns of the version to carry along. customers: when
    true, `months` has a `customer_id` column too, and only those customers are looked at in
    those months.
#}
{% macro active_customers_at_month_end(months, history, extra_columns=[], customers=false) %}
    select
        month_ends.month,
        {%- for column in extra_columns %}
        month_history.{{ column }},
        {%- endfor %}
        month_history.region_code,
        month_history.customer_id
    from (select distinct month{{ ', customer_id' if customers }} from {{ months }}) as month_ends
    inner join {{ history }} as month_history
        on
            {% if customers -%}
            month_history.customer_id = month_ends.customer_id
            and {% endif -%}
            month_history.valid_from < (month_ends.month + interval '1 month')::timestamp
            at time zone 'Asia/Shanghai'
            and month_history.valid_to >= (month_ends.month + interval '1 month')::timestamp
            at time zone 'Asia/Shanghai'
    where
        month_history.status = 'ACTIVE'
        and month_history.open_date < (month_ends.month + interval '1 month')::date
{% endmacro %}
