{{
    config(
        materialized='incremental',
        unique_key='interaction_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "{{ delete_rows_of_replaced_files(this) }}",
            "create index if not exists fct_interactions_by_date on {{ this }} (occurred_date)",
            "create index if not exists fct_interactions_by_customer on {{ this }} (customer_id)",
        ],
    )
}}
-- Every record of every channel, one row each: channel, business type, the attempt / success /
-- transaction flags of kpis.md, amount, the customer it belongs to (or none) and the region at
-- the record's time. Incremental: see the `incremental` CTE for what a run re-reads.
with records as (
    select * from {{ ref('int_interactions_unioned') }}
),

resolved as (
    select * from {{ ref('int_identities_resolved') }}
),

edges as (
    select * from {{ ref('int_identity_edges') }}
),

components as (
    select * from {{ ref('int_identity_components') }}
),

file_ledger as (
    select * from {{ source('audit', 'file_ledger') }}
),

identities as (
    select
        identifier,
        customer_id
    from resolved
    where customer_id is not null
),

history as (
    select * from {{ ref('int_customer_history') }}
),

business_types as (
    select * from {{ ref('business_types') }}
),

{% if is_incremental() %}
watermark as (
    -- what the table has seen: the load time of its newest row, and its newest business day
    select
        max(loaded_at) as loaded_at,
        max(occurred_date) - {{ var('lookback_days') }} as look_back_to
    from {{ this }}
),

changed_customers as (
    -- customers with a CRM version loaded since: their records' region may have moved
    select distinct history.customer_id
    from history
    where history.loaded_at > (select watermark.loaded_at from watermark)
),

touched_nodes as (
    -- identifiers with a link loaded since
    select node_a as node from edges
    where last_loaded_at > (select watermark.loaded_at from watermark)
    union
    select node_b from edges
    where last_loaded_at > (select watermark.loaded_at from watermark)
),

touched_components as (
    -- new links move whole components (links are timeless: old records change customer too)
    select distinct components.component
    from components
    where components.node in (select touched_nodes.node from touched_nodes)
),

affected_nodes as (
    select resolved.identifier
    from resolved
    where
        resolved.component in (select touched_components.component from touched_components)
        or resolved.customer_id in (select changed_customers.customer_id from changed_customers)
),

incremental as (
    select records.*
    from records
    where
        records.occurred_date >= (select watermark.look_back_to from watermark)
        or records.loaded_at > (select watermark.loaded_at from watermark)
        or records.msisdn_node in (select affected_nodes.identifier from affected_nodes)
        or records.member_node in (select affected_nodes.identifier from affected_nodes)
        or records.observed_node in (select affected_nodes.identifier from affected_nodes)
        or records.interaction_key in (
            -- a record whose customer changed, or whose delivery was replaced by a correction
            select this.interaction_key
            from {{ this }} as this
            where
                this.customer_id in (select changed_customers.customer_id from changed_customers)
                or this.file_id in (
                    select file_ledger.file_id from file_ledger
                    where file_ledger.status <> 'loaded'
                )
        )
),
{% else %}
incremental as (
    select * from records
),
{% endif %}

identified as (
    select
        incremental.*,
        coalesce(by_msisdn.customer_id, by_member.customer_id, by_observed.customer_id)
            as customer_id,
        case
            when by_msisdn.customer_id is not null then 'msisdn'
            when by_member.customer_id is not null then 'member_id'
            when by_observed.customer_id is not null then split_part(incremental.observed_node, ':', 1)
        end as identified_by
    from incremental
    left join identities as by_msisdn
        on incremental.msisdn_node = by_msisdn.identifier
    left join identities as by_member
        on incremental.member_node = by_member.identifier
    left join identities as by_observed
        on incremental.observed_node = by_observed.identifier
),

with_region as (
    select
        identified.*,
        history.customer_version_key,
        history.region_code as customer_region_code
    from identified
    left join history
        on
            identified.customer_id = history.customer_id
            and identified.occurred_at >= history.valid_from
            and identified.occurred_at < history.valid_to
),

final as (
    select
        with_region.interaction_key,
        with_region.source,
        with_region.source_record_id,
        with_region.channel,
        with_region.event_type,
        with_region.business_type,
        with_region.occurred_at,
        with_region.occurred_date,
        date_trunc('month', with_region.occurred_date)::date as occurred_month,
        with_region.is_attempt,
        with_region.is_success,
        with_region.is_success and coalesce(business_types.is_transaction, false) as is_transaction,
        with_region.amount_yuan,
        with_region.is_refunded,
        with_region.has_pickup_hall,
        with_region.survey_score,
        with_region.is_complaint_flagged,
        with_region.customer_id,
        with_region.customer_version_key,
        with_region.customer_id is not null as is_identified,
        with_region.identified_by,
        coalesce(with_region.customer_region_code, with_region.record_region_code, 'UNKNOWN')
            as region_code,
        case
            when with_region.customer_region_code is not null then 'customer'
            when with_region.record_region_code is not null then 'record'
            else 'unknown'
        end as region_source,
        with_region.session_id,
        with_region.app_uid,
        with_region.file_id,
        with_region.loaded_at,
        now() as dbt_updated_at
    from with_region
    left join business_types
        on with_region.business_type = business_types.business_type
)

select * from final
