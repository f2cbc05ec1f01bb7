-- Connected components of the identity graph without its customer nodes: identifiers that were
-- seen together, directly or through a chain (a uid seen with a phone that a web visitor also
-- logged in with). A component is labelled by its smallest node. Customers are left out so that
-- a component shows what the channels saw; int_identities_resolved then asks which customers it
-- reaches. Nodes that were never seen with another identifier are their own component.
with recursive edges as (
    select * from {{ ref('int_identity_edges') }}
),

observed as (
    select
        node_a,
        node_b
    from edges
    where link_source <> 'crm'
    union
    select
        node_b,
        node_a
    from edges
    where link_source <> 'crm'
),

nodes as (
    select node_b as node from edges
    where link_source = 'crm'
    union
    select node_a from observed
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
        count(*) as component_size
    from walk
    group by start_node
)

select * from final
