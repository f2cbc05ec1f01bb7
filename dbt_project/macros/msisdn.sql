{#- Phone numbers, as sources.md defines them: every shape of a mainland mobile number
    (13812345678, +86 138-1234-5678, 0086 13812345678, 138 1234 5678, 8613812345678) normalises
    to its 11 digits; anything else (a landline, a masked number, an empty value) gives null. -#}
{% macro normalise_msisdn(column) -%}
    (
        case
            when regexp_replace({{ column }}, '[\s\-()]', '', 'g') ~ '^(\+86|0086|86)?1[0-9]{10}$'
                then right(regexp_replace({{ column }}, '[\s\-()]', '', 'g'), 11)
        end
    )
{%- endmacro %}

{#- A masked phone such as 138****5678 identifies nobody, but a store gives it: true for it. -#}
{% macro is_masked_msisdn(column) -%}
    (regexp_replace({{ column }}, '[\s\-]', '', 'g') ~ '^(\+86|0086|86)?1[0-9]{2}\*{4}[0-9]{4}$')
{%- endmacro %}

{#- How a phone shows outside raw and staging: 138****5678. -#}
{% macro mask_msisdn(column) -%}
    (left({{ column }}, 3) || '****' || right({{ column }}, 4))
{%- endmacro %}
