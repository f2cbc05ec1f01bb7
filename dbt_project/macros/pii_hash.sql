{#- A keyed hash (HMAC-SHA256, RFC 2104) of a personal identifier, as hex.

    A plain hash of a phone number can be reversed by hashing every mobile number; a keyed hash
    cannot without the key. The key comes from the environment variable DW_PII_KEY (channel-dw
    sets it from the project's configuration; it is never stored in the database). The hash is
    computed with PostgreSQL's built-in sha256(), so no extension (pgcrypto) is needed: the inner
    and outer pads are derived from the key once per query (an uncorrelated sub-query). -#}
{% macro pii_hash(column) -%}
    {#- (env_var is undefined only where SQLFluff renders the models to lint them) -#}
    {%- set key = env_var('DW_PII_KEY', '') if env_var is defined else 'lint-only-not-a-key' -%}
    {%- if key | length < 16 -%}
        {{ exceptions.raise_compiler_error(
            "DW_PII_KEY is not set (or shorter than 16 characters): the marts hash phone numbers "
            ~ "and e-mails with it. Run dbt through `channel-dw dbt ...`, which sets it from "
            ~ "DW_PII_KEY or the embedded default in .dw/pii.key.") }}
    {%- endif -%}
    case
        when {{ column }} is not null then
            encode(
                sha256(
                    ({{ _hmac_pad(key, 92) }})
                    || sha256(({{ _hmac_pad(key, 54) }}) || convert_to({{ column }}, 'UTF8'))
                ),
                'hex'
            )
    end
{%- endmacro %}

{#- key (padded to sha256's 64-byte block) xor the pad byte, as bytea. -#}
{% macro _hmac_pad(key, pad_byte) -%}
    -- a xor b written as (a | b) - (a & b): SQLFluff's PostgreSQL dialect cannot read `#`
    select decode(
        string_agg(
            lpad(
                to_hex((get_byte(k.block, i) | {{ pad_byte }}) - (get_byte(k.block, i) & {{ pad_byte }})),
                2,
                '0'
            ),
            '' order by i
        ),
        'hex'
    )
    from (
        select
            case
                when length(convert_to('{{ key | replace("'", "''") }}', 'UTF8')) > 64
                    then sha256(convert_to('{{ key | replace("'", "''") }}', 'UTF8'))
                else convert_to('{{ key | replace("'", "''") }}', 'UTF8')
            end as raw_key
    ) as r
    cross join lateral (
        select r.raw_key || decode(repeat('00', 64 - length(r.raw_key)), 'hex') as block
    ) as k
    cross join generate_series(0, 63) as i
{%- endmacro %}
