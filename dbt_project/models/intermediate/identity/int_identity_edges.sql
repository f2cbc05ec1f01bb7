{#- Incremental (macros/incremental_identity.sql): a daily run reads the records loaded since the
    newest link it holds (less the margin), adds the links that are new and moves the last time
    the others were seen; it is rebuilt whole after a replaced delivery. #}
{{ config(pre_hook=["{{ empty_when_rebuilt_whole(this, 'added_at') }}"]) }}
{%- set whole = identity_rebuilt_whole(this, 'added_at') %}
{%- set since = none if whole else links_loaded_since(this) %}
-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- The identity graph's edges: two identifiers seen together. Identifiers are typed text nodes,
-- `<type>:<value>`: customer, msisdn (11 digits), member, email (lower case), app_uid,
-- web_visitor, store_account (`<platform>/<account>`). The CRM ties a customer to every phone,
-- member id and e-mail it has ever held; the app, the website and the stores add the links that
-- sources.md lists. Links are timeless: when they were seen does not matter.
with crm as (
    select * from {{ ref('stg_crm__customers') }}
    {% if since is not none %}
    where loaded_at > {{ since }}
    {% endif %}
),

app as (
    select * from {{ ref('stg_app__events') }}
    {% if since is not none %}
    where loaded_at > {{ since }}
    {% endif %}
),

web as (
    select * from {{ ref('stg_web__events') }}
    {% if since is not none %}
    where loaded_at > {{ since }}
    {% endif %}
),

stores as (
    select * from {{ ref('stg_stores__orders') }}
    {% if since is not none %}
    where loaded_at > {{ since }}
    {% endif %}
),

crm_links as (
    select
        'customer:' || customer_id as node_a,
        'msisdn:' || msisdn as node_b,
        'crm' as link_source,
        loaded_at
    from crm
    where msisdn is not null
    union all
    select
        'customer:' || customer_id,
        'member:' || member_id,
        'crm',
        loaded_at
    from crm
    where member_id is not null
    union all
    select
        'customer:' || customer_id,
        'email:' || email,
        'crm',
        loaded_at
    from crm
    where email is not null
),

observed_links as (
    select
        'app_uid:' || uid as node_a,
        'msisdn:' || msisdn as node_b,
        'app' as link_source,
        loaded_at
    from app
    where uid is not null and msisdn is not null
    union all
    select
        'web_visitor:' || visitor_id,
        'member:' || member_id,
        'web',
        loaded_at
    from web
    where visitor_id is not null and member_id is not null
    union all
    select
        'web_visitor:' || visitor_id,
        'msisdn:' || msisdn,
        'web',
        loaded_at
    from web
    where visitor_id is not null and msisdn is not null
    union all
    select
        'store_account:' || platform || '/' || buyer_account,
        'member:' || member_id,
        'stores',
        loaded_at
    from stores
    where buyer_account is not null and member_id is not null
    union all
    select
        'store_account:' || platform || '/' || buyer_account,
        'msisdn:' || msisdn,
        'stores',
        loaded_at
    from stores
    where buyer_account is not null and msisdn is not null
),

all_links as (
    select * from crm_links
    union all
    select * from observed_links
),

seen as (
    select
        node_a,
        node_b,
        link_source,
        max(loaded_at) as last_loaded_at
    from all_links
    group by
        node_a,
        node_b,
        link_source
),

final as (
    -- a link already held keeps when it was added and gets the newer of the two load times; only
    -- the new links and those seen again in a newer load are written
    select
        seen.node_a,
        seen.node_b,
        seen.link_source,
        {% if since is not none %}
        greatest(seen.last_loaded_at, held.last_loaded_at) as last_loaded_at,
        coalesce(held.added_at, now()) as added_at,
        {% else %}
        seen.last_loaded_at,
        now() as added_at,
        {% endif %}
        now() as dbt_updated_at
    from seen
    {% if since is not none %}
    left join {{ this }} as held
        on
            seen.node_a = held.node_a
            and seen.node_b = held.node_b
            and seen.link_source = held.link_source
    where held.node_a is null or seen.last_loaded_at > held.last_loaded_at
    {% endif %}
)

select * from final
