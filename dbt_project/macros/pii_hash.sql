{#- A keyed hash (HMAC-SHA256, RFC 2104) of a personal identifier, as hex.

    A plain hash of a phone number can be reversed by hashing every mobile number; a keyed hash
    cannot without the key. The key never appears in SQL text: the query reads it from the
    session setting dw.pii_key, which `channel-dw dbt` (and the Airflow tasks) give dbt's
    connections through PGOPTIONS. So it is in neither dbt's compiled SQL, its logs, its
    manifest, nor pg_stat_activity, and it is never stored in the database. The hash is computed
    with PostgreSQL's built-in sha256(), so no extension (pgcrypto) is needed: the inner and
    outer pads are derived from the key once per query (an uncorrelated sub-query). -#}
{% macro pii_hash(column) -%}
    {#- (env_var is undefined only where SQLFluff renders the models to lint them) -#}
    {%- if env_var is defined and env_var('DW_PII_KEY_IN_SESSION', '') != 'yes' -%}
        {{ exceptions.raise_compiler_error(
            "The PII key is not in dbt's database session: the marts hash phone numbers and "
            ~ "e-mails with it. Run dbt through `channel-dw dbt ...`, which passes it (from "
            ~ "DW_PII_KEY or the embedded default in .dw/pii.key) as the setting dw.pii_key.") }}
    {%- endif -%}
    case
        when {{ column }} is not null then
            encode(
                sha256(
                    ({{ _hmac_pad(92) }})
                    || sha256(({{ _hmac_pad(54) }}) || convert_to({{ column }}, 'UTF8'))
                ),
                'hex'
            )
    end
{%- endmacro %}

{#- key (padded to sha256's 64-byte block) xor the pad byte, as bytea. -#}
{% macro _hmac_pad(pad_byte) -%}
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
                when length(convert_to(current_setting('dw.pii_key'), 'UTF8')) > 64
                    then sha256(convert_to(current_setting('dw.pii_key'), 'UTF8'))
                else convert_to(current_setting('dw.pii_key'), 'UTF8')
            end as raw_key
    ) as r
    cross join lateral (
        select r.raw_key || decode(repeat('00', 64 - length(r.raw_key)), 'hex') as block
    ) as k
    cross join generate_series(0, 63) as i
{%- endmacro %}
