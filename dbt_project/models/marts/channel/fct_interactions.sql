{{
    config(
        materialized='incremental',
        unique_key='interaction_key',
        incremental_strategy='logged_delete_insert',
        on_schema_change='fail',
        post_hook=[
            "{{ start_change_log(this) }}",
            "{{ delete_rows_of_replaced_files(this, logged=true) }}",
            "{{ create_partial_index(this, 'session_id') }}",
            "{{ create_partial_index(this, 'app_uid') }}",
            "{{ create_partial_index(this, 'source_record_id', where=\"source = 'stores'\") }}",
            "{{ create_partial_index(
                this, 'customer_id, occurred_month', where=\"channel in ('HOTLINE_AGENT', 'HALL')\"
            ) }}",
        ],
        indexes=[
            {'columns': ['interaction_key'], 'unique': true},
            {'columns': ['occurred_date']},
            {'columns': ['customer_id', 'occurred_month']},
            {'columns': ['file_id']},
            {'columns': ['loaded_at']},
            {'columns': ['dbt_updated_at']},
        ],
    )
}}
{#- What the table has seen (macros/fact_watermark.sql): the load time of its newest row, and the
    start of the look-back, read before the run and put in the query as literals. #}
{%- set seen_loaded_at = fact_watermark(this, 'loaded_at') %}
{%- set look_back_from = fact_watermark(this, 'look_back_from') %}
{#- the identity components a link added since the table's last run touched
    (macros/touched_components.sql) #}
{%- set touched_components = components_touched_since(
    newest_update(this) if is_incremental() else "'-infinity'::timestamptz", seen_loaded_at
) %}
-- Every record of every channel, one row each: channel, business type, the attempt / success /
-- transaction flags of kpis.md, amount, the customer it belongs to (or none) and the region at
-- the record's time. Incremental: see the `incremental` CTE for what a run re-reads.
with records as not materialized (
    -- read by several branches of the incremental filter: inlined into each, so that each can
    -- use the staging tables' indexes rather than one pass over every record
    select * from {{ ref('int_interactions_unioned') }}
),

resolved as not materialized (
    -- this and the other CTEs read more than once are inlined too: PostgreSQL knows the
    -- statistics of a table, not of a materialised CTE, and estimated the joins on them at
    -- 10^18 rows (whole-table merge joins) where an incremental run has under a million
    select * from {{ ref('int_identities_resolved') }}
),

file_ledger as (
    select * from {{ source('audit', 'file_ledger') }}
),

identities as not materialized (
    select
        identifier,
        customer_id
    from resolved
    where customer_id is not null
),

history as not materialized (
    select * from {{ ref('int_customer_history') }}
),

business_types as (
    select * from {{ ref('business_types') }}
),

{% if is_incremental() %}
changed_customers as (
    -- customers with a CRM version loaded since, and from when their records' version and region
    -- may have moved: a version holds from its updated_at (`valid_from`), so a record before the
    -- earliest new version keeps its own (a first version holds for all time before: -infinity)
    select
        history.customer_id,
        min(history.valid_from) as from_at
    from history
    where history.loaded_at > {{ seen_loaded_at }}
    group by history.customer_id
),

affected_nodes as (
    -- the identifiers of the components a new link touched (links are timeless: old records
    -- change customer too). Not those of a customer with a new CRM version: a version moves no
    -- record to another customer (the CRM's links are edges of the graph, and a new one touches
    -- its component), only the version and region of the customer's own records from the time
    -- it holds, which `reread` finds by customer
    select resolved.identifier
    from resolved
    where resolved.component in ({{ touched_components }})
),

reread as (
    -- records to read again whatever their identifiers: those of a customer with a new CRM
    -- version from the time it holds (through the customer-month index: the daily CRM file's
    -- customers re-read only their records of the last day or so, not of every month), and
    -- those of a delivery replaced by a correction (the post-hook deletes the rows of replaced
    -- deliveries, so only the newly replaced are still in the table)
    select customer_rows.interaction_key
    from changed_customers
    cross join
        lateral (
            select this.interaction_key
            from {{ this }} as this
            where
                this.customer_id = changed_customers.customer_id
                and this.occurred_month
                >= date_trunc('month', changed_customers.from_at at time zone 'Asia/Shanghai')
                and this.occurred_at >= changed_customers.from_at
        ) as customer_rows
    union all
    select this.interaction_key
    from {{ this }} as this
    where
        this.file_id = any(array(
            select file_ledger.file_id
            from file_ledger
            where file_ledger.status <> 'loaded'
        ))
),

incremental as (
    -- One branch per reason (an `or` of them would read every record); `union` keeps a record
    -- that several reasons select once. The staging tables are searched through their indexes:
    -- with `= any(array(...))` PostgreSQL runs the sub-query once and probes the index with its
    -- values, where a join would be planned from an estimate of how many there are (at 17 million
    -- records it guessed 40 times too many and sorted every staged record instead). Store orders
    -- (a small table without those indexes) are one branch with every reason as a hashed `in`
    -- (`= any` of a computed array compares each row with every value), read once.
    select records.*
    from records
    where
        records.source <> 'stores'
        and records.occurred_at >= {{ look_back_from }}
    union
    select records.*
    from records
    where
        records.source <> 'stores'
        and records.loaded_at > {{ seen_loaded_at }}
    {%- for column, wanted in [
        ('msisdn_node', 'affected_nodes.identifier from affected_nodes'),
        ('member_node', 'affected_nodes.identifier from affected_nodes'),
        ('observed_node', 'affected_nodes.identifier from affected_nodes'),
        ('interaction_key', 'reread.interaction_key from reread'),
    ] %}
    union
    select records.*
    from records
    where
        records.source <> 'stores'
        and records.{{ column }} is not null
        and records.{{ column }} = any(array(select {{ wanted }}))
    {%- endfor %}
    union
    select records.*
    from records
    where
        records.source = 'stores'
        and (
            records.occurred_at >= {{ look_back_from }}
            or records.loaded_at > {{ seen_loaded_at }}
            or records.msisdn_node in (select affected_nodes.identifier from affected_nodes)
            or records.member_node in (select affected_nodes.identifier from affected_nodes)
            or records.observed_node in (select affected_nodes.identifier from affected_nodes)
            or records.interaction_key in (select reread.interaction_key from reread)
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

{#- the look-back's rows are compared with the table's rows of the same days, read by date #}
{{ changed_rows_only(
    this, 'final', 'interaction_key',
    recent_column='occurred_date',
    recent_from="(" ~ look_back_from ~ " at time zone 'Asia/Shanghai')::date",
) }}
