-- An identifier linked to two or more customers links nobody: no record is attributed through it.
-- Read from the conflicts to the records: each identifier column of the staging tables has an
-- index on its node (macros/incremental_staging.sql), probed with the conflicted identifiers'
-- values, as fct_interactions does for the identifiers a link touched; a join of every record
-- with the facts took 59 s of a daily run on 12 months of history.
with conflicts as (
    select identifier
    from {{ ref('int_identities_resolved') }}
    where resolution = 'conflict'
),

records as not materialized (
    select * from {{ ref('int_interactions_unioned') }}
),

through_a_conflict as (
    {%- for column in ['msisdn_node', 'member_node', 'observed_node'] %}
    {{- "\n    union all" if not loop.first }}
    select
        records.interaction_key,
        '{{ column }}' as node_column,
        records.{{ column }} as identifier
    from records
    where
        records.source <> 'stores'
        and records.{{ column }} = any(array(select conflicts.identifier from conflicts))
    union all
    -- store orders are a view without indexes: a hashed `in`
    select
        records.interaction_key,
        '{{ column }}',
        records.{{ column }}
    from records
    where
        records.source = 'stores'
        and records.{{ column }} in (select conflicts.identifier from conflicts)
    {%- endfor %}
),

facts as (
    -- the facts of those records, through the key's index: a join was planned from an estimate
    -- of 26 million records (for 1,668) and hashed all 16 million facts (6.7 s of 12 months)
    select * from {{ ref('fct_interactions') }}
    where
        interaction_key = any(array(
            select through_a_conflict.interaction_key from through_a_conflict
        ))
)

select
    facts.interaction_key,
    facts.identified_by,
    through_a_conflict.identifier
from through_a_conflict
inner join facts
    on through_a_conflict.interaction_key = facts.interaction_key
where
    through_a_conflict.node_column = case facts.identified_by
        when 'msisdn' then 'msisdn_node'
        when 'member_id' then 'member_node'
        else 'observed_node'
    end
    and facts.identified_by is not null
