-- An identifier linked to two or more customers links nobody: no record is attributed through it.
with conflicts as (
    select
        identifier,
        identifier_type
    from {{ ref('int_identities_resolved') }}
    where resolution = 'conflict'
),

records as (
    select * from {{ ref('int_interactions_unioned') }}
),

facts as (
    select * from {{ ref('fct_interactions') }}
)

select
    facts.interaction_key,
    facts.identified_by,
    conflicts.identifier
from facts
inner join records
    on facts.interaction_key = records.interaction_key
inner join conflicts
    on conflicts.identifier = case facts.identified_by
        when 'msisdn' then records.msisdn_node
        when 'member_id' then records.member_node
        else records.observed_node
    end
where facts.identified_by is not null
