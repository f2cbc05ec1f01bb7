{#- Incremental (macros/incremental_identity.sql): a daily run recomputes the components that the
    links added since its last build touched, and no other; rebuilt whole after a replaced
    delivery. #}
{{ config(pre_hook=["{{ empty_when_rebuilt_whole(this, 'dbt_updated_at') }}"]) }}
{%- set whole = identity_rebuilt_whole(this, 'dbt_updated_at') %}
-- Connected components of the identity graph without its customer nodes: identifiers that were
-- seen together, directly or through a chain (a uid seen with a phone that a web visitor also
-- logged in with). A component is labelled by its smallest node. Customers are left out so that
-- a component shows what the channels saw; int_identities_resolved then asks which customers it
-- reaches. Nodes that were never seen with another identifier are their own component.
with recursive edges as (
    select * from {{ ref('int_identity_edges') }}
),

{%- if not whole %}

added as (
    -- the identifiers of the links added since the last build (a customer is no node here)
    select added_links.node_b as node
    from edges as added_links
    where added_links.added_at > {{ newest_update(this) }}
    union
    select added_links.node_a
    from edges as added_links
    where
        added_links.added_at > {{ newest_update(this) }}
        and added_links.link_source <> 'crm'
),

touched as (
    -- they and every node of the components they were in: a new component is old components
    -- joined by new links, plus new nodes, so a walk from these stays among them
    select added.node from added
    union
    select held.node
    from {{ this }} as held
    where held.component in (
        select held_before.component
        from {{ this }} as held_before
        where held_before.node in (select added.node from added)
    )
),
{%- endif %}

observed as (
    select
        node_a,
        node_b
    from edges
    where
        link_source <> 'crm'
        and {{ in_scope('node_a', 'touched', whole) }}
    union
    select
        node_b,
        node_a
    from edges
    where
        link_source <> 'crm'
        and {{ in_scope('node_b', 'touched', whole) }}
),

nodes as (
    {% if whole %}
    select node_b as node from edges
    where link_source = 'crm'
    union
    select node_a from observed
    {% else %}
    select touched.node from touched
    {% endif %}
),

walk (start_node, reached_node) as (
    select
        node as start_node,
        node as reached_node
    from nodes
    union
    select
        walk.start_node,
        observed.node_b
    from walk
    inner join observed
        on walk.reached_node = observed.node_a
),

final as (
    select
        start_node as node,
        split_part(start_node, ':', 1) as identifier_type,
        min(reached_node) as component,
        count(*) as component_size,
        now() as dbt_updated_at
    from walk
    group by start_node
)

select * from final
