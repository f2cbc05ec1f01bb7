{#- Customer-incremental KPI tables (docs/mart.md, "Incremental KPI tables").

    customer_channel_preference has a row per month, active customer and self-service channel: 13
    months of 200,000 customers are 13 million rows. A link is timeless, so a day's links move
    records in every month, and rebuilding whole months (macros/kpi_months.sql) rewrote them all
    every morning. A customer's rows depend only on that customer's records and CRM versions, so a
    daily run rebuilds, besides the months of kpi_months_to_rebuild(by_customer=true) (replaced
    deliveries, months the table does not hold yet), the rows of the customers whose inputs
    changed since the table was last built, from the first month that changed for them:

    * customers of the fact rows fct_interactions (re)wrote since then (it rewrites only the rows
      whose values changed), from the month of the oldest such row;
    * customers whose records a new link may have taken away: a link the graph did not hold
      (added since, less the margin; macros/touched_components.sql) merges identity components,
      so the customers with a CRM link into a touched component are the ones the moved records
      may have belonged to; all their months;
    * customers with a CRM version loaded since (less the margin), from the month the version
      starts to hold in (a row of month M reads the version that held at M's end): the daily
      CRM file's customers rebuild their current month, not all 13 (a first version holds for
      all time before it, so all months).

    channel_guidance_unranked (the guidance list's rows, from the customer's records and
    preference rows of the month) is rebuilt the same way, from the same signals.

    `kpi_customers_to_rebuild(relation)`: that set as a query of (customer_id, from_month), with
    the table's last build time as a literal; none for a full build, or when the table is rebuilt
    whole (below, `kpi_facts_rewritten_whole`). The model selects the rows of
    those customers from `from_month` on, and its pre-hook `delete_kpi_rows_to_rebuild` deletes
    the same rows (and the rebuilt months) first; the table is appended to. -#}
{% macro kpi_customers_to_rebuild(relation) -%}
    {%- if not execute -%}
        {%- do ref('fct_interactions') -%}
        {%- do ref('int_customer_history') -%}
        {%- do ref('int_identity_edges') -%}
        {%- do ref('int_identity_components') -%}
    {%- endif -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if kpi_facts_rewritten_whole(relation) -%}
        {{ log(relation.identifier ~ ": every fact row was written after its last build (the facts were"
            ~ " refreshed in full), so it is rebuilt whole", info=true) }}
        {{ return(none) }}
    {%- endif -%}
    {%- set built_at = newest_update(relation) -%}
    {%- set seen_at -%}
        ({{ built_at }} - interval '{{ var("kpi_rebuild_margin") }}')
    {%- endset -%}
    {%- set query -%}
        select
            changes.customer_id,
            min(changes.from_month) as from_month
        from (
            select
                interactions.customer_id,
                interactions.occurred_month as from_month
            from {{ ref('fct_interactions') }} as interactions
            where
                interactions.dbt_updated_at > {{ built_at }}
                and interactions.customer_id is not null
            union all
            select
                substr(crm_links.node_a, length('customer:') + 1),
                '-infinity'::date
            from {{ ref('int_identity_edges') }} as crm_links
            where
                crm_links.link_source = 'crm'
                and crm_links.node_b in (
                    select members.node
                    from {{ ref('int_identity_components') }} as members
                    where members.component in ({{ components_touched_since(seen_at, seen_at) }})
                )
            union all
            -- a version holds at the ends of the months from the one it starts in (a first
            -- version: all of them, its valid_from being -infinity)
            select
                versions.customer_id,
                date_trunc('month', versions.valid_from at time zone 'Asia/Shanghai')::date
            from {{ ref('int_customer_history') }} as versions
            where versions.loaded_at > {{ seen_at }}
        ) as changes
        group by changes.customer_id
    {%- endset -%}
    {{ return(query) }}
{%- endmacro %}

{#- The pre-hook of a customer-incremental KPI table: delete the rows this run rebuilds (see
    above), in the run's transaction, before the new rows are appended. -#}
{% macro delete_kpi_rows_to_rebuild(relation, months_after=0) -%}
    {%- set customers = kpi_customers_to_rebuild(relation) -%}
    {%- if customers is none and execute and is_incremental() -%}
        delete from {{ relation }}
    {%- elif customers is none -%}
        select 1
    {%- else -%}
        {%- set months = kpi_months_to_rebuild(relation, months_after, by_customer=true) -%}
        delete from {{ relation }} as rebuilt
        where {{ in_rebuilt_months('rebuilt.month', months) }};
        delete from {{ relation }} as rebuilt
        using ({{ customers }}) as changed
        where
            changed.customer_id = rebuilt.customer_id
            and rebuilt.month >= changed.from_month
    {%- endif -%}
{%- endmacro %}

{#- True on an incremental run when every row of fct_interactions was written after `relation` was
    last built: the facts were refreshed in full (`dbt run --full-refresh -s fct_interactions`, or
    a refresh of everything upstream of one KPI table), so every customer's records are new to the
    table. It is then rebuilt whole, its pre-hook emptying it, rather than customer by customer (a
    delete and a select joined to every customer: 269 s for the guidance rows of one month, where
    a full build of them takes a few). An index probe of the facts' oldest write. -#}
{% macro kpi_facts_rewritten_whole(relation) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select coalesce(min(dbt_updated_at) > {{ newest_update(relation) }}, false)
        from {{ ref('fct_interactions') }}
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{#- The months a KPI table holds, as a `date[]` literal (a skip scan of its month index). -#}
{% macro kpi_table_months(relation) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return("array[]::date[]") }}
    {%- endif -%}
    {%- set query -%}
        select coalesce(string_agg(held.month::text, ',' order by held.month), '')
        from ({{ distinct_by_skip_scan(relation, 'month') }}) as held
    {%- endset -%}
    {%- set listed = run_query(query).columns[0].values()[0] -%}
    {{ return("'{" ~ listed ~ "}'::date[]") }}
{%- endmacro %}
