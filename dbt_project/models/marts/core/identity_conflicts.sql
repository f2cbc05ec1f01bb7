-- Identifiers linked to two or more customers (a shared computer, a shared store account, a
-- recycled number): they link nobody, and are listed here for the data team to look into.
-- Personal identifiers appear as keyed hashes (and phones masked).
with resolved as (
    select * from {{ ref('int_identities_resolved') }}
    where resolution = 'conflict'
),

final as (
    select
        identifier_type,
        {{ pii_hash("substr(identifier, length(identifier_type) + 2)") }} as identifier_hash,
        case
            when identifier_type = 'msisdn'
                then {{ mask_msisdn("substr(identifier, length(identifier_type) + 2)") }}
            when identifier_type in ('app_uid', 'web_visitor')
                then substr(identifier, length(identifier_type) + 2)
        end as identifier_shown,
        direct_customers as customers,
        direct_customer_ids as customer_ids,
        component_size
    from resolved
)

select * from final
