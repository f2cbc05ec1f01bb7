{#- Incremental (macros/incremental_identity.sql): a daily run resolves again the identifiers of
    the components int_identity_components rewrote since its last build (a component is rewritten
    whole, and its customers can only come from its own nodes); rebuilt whole after a replaced
    delivery. #}
{{ config(pre_hook=["{{ empty_when_rebuilt_whole(this, 'dbt_updated_at') }}"]) }}
{%- set whole = identity_rebuilt_whole(this, 'dbt_updated_at') %}
-- Which customer each identifier belongs to (sources.md, "Identity").
--
-- A component of the identity graph (int_identity_components) that reaches exactly one CRM
-- customer belongs to that customer, every identifier in it, however it was linked: links are
-- timeless. A component that reaches two or more customers was joined by a shared identifier
-- (a family computer, a shared store account); there each identifier keeps only the customers
-- it is linked to directly (its own CRM customers, or those of the identifiers it was seen
-- with): exactly one resolves it, two or more make it a conflict that links nobody and is
-- reported (marts.identity_conflicts), none leaves it anonymous.
with edges as (
    select * from {{ ref('int_identity_edges') }}
),

components as (
    select * from {{ ref('int_identity_components') }}
    {% if not whole %}
    where dbt_updated_at > {{ newest_update(this) }}
    {% endif %}
),

held_by as (
    -- identifiers the CRM has ever given a customer
    select distinct
        node_b as node,
        substr(node_a, length('customer:') + 1) as customer_id
    from edges
    where
        link_source = 'crm'
        and {{ in_scope('node_b', 'components', whole) }}
),

observed as (
    -- (an identifier's neighbours are in its component)
    select
        node_a,
        node_b
    from edges
    where
        link_source <> 'crm'
        and {{ in_scope('node_a', 'components', whole) }}
    union
    select
        node_b,
        node_a
    from edges
    where
        link_source <> 'crm'
        and {{ in_scope('node_b', 'components', whole) }}
),

component_customers as (
    select
        components.component,
        count(distinct held_by.customer_id) as customers,
        min(held_by.customer_id) as only_customer
    from components
    inner join held_by
        on components.node = held_by.node
    group by components.component
),

direct_links as (
    select
        node,
        customer_id
    from held_by
    union
    select
        observed.node_a,
        held_by.customer_id
    from observed
    inner join held_by
        on observed.node_b = held_by.node
),

direct_customers as (
    select
        node,
        count(*) as customers,
        min(customer_id) as only_customer,
        array_agg(customer_id order by customer_id) as customer_ids
    from direct_links
    group by node
),

final as (
    select
        components.node as identifier,
        components.identifier_type,
        components.component,
        components.component_size,
        coalesce(component_customers.customers, 0) as component_customers,
        coalesce(direct_customers.customers, 0) as direct_customers,
        direct_customers.customer_ids as direct_customer_ids,
        case
            when component_customers.customers = 1 then 'component'
            when direct_customers.customers = 1 then 'direct'
            when direct_customers.customers > 1 then 'conflict'
            else 'none'
        end as resolution,
        case
            when component_customers.customers = 1 then component_customers.only_customer
            when direct_customers.customers = 1 then direct_customers.only_customer
        end as customer_id,
        now() as dbt_updated_at
    from components
    left join component_customers
        on components.component = component_customers.component
    left join direct_customers
        on components.node = direct_customers.node
)

select * from final
