-- noqa: disable=AL03
-- (the branches of a union take their column names from the first one)
-- The identity graph's edges: two identifiers seen together. Identifiers are typed text nodes,
-- `<type>:<value>`: customer, msisdn (11 digits), member, email (lower case), app_uid,
-- web_visitor, store_account (`<platform>/<account>`). The CRM ties a customer to every phone,
-- member id and e-mail it has ever held; the app, the website and the stores add the links that
-- sources.md lists. Links are timeless: when they were seen does not matter.
with crm as (
    select * from {{ ref('stg_crm__customers') }}
),

app as (
    select * from {{ ref('stg_app__events') }}
),

web as (
    select * from {{ ref('stg_web__events') }}
),

stores as (
    select * from {{ ref('stg_stores__orders') }}
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

final as (
    select
        node_a,
        node_b,
        link_source,
        count(*) as times_seen,
        max(loaded_at) as last_loaded_at
    from all_links
    group by
        node_a,
        node_b,
        link_source
)

select * from final
