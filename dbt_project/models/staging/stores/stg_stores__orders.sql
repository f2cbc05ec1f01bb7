-- Store orders: one row per platform and order number, holding its latest status. An order is
-- delivered again whenever its status changes; the latest business date wins, then the later
-- delivery of that day (file, then sheet row). Amounts lose their ¥ and commas; a masked phone
-- stays masked and identifies nobody; SKU prefixes give the business type.
with orders as (
    select * from {{ source('stores', 'store_orders') }}
),

files as (
    select * from {{ source('audit', 'file_ledger') }}
),

statuses as (
    select * from {{ ref('store_statuses') }}
),

codes as (
    select * from {{ ref('business_codes') }}
    where source = 'stores'
),

typed as (
    select
        orders.platform || ':' || orders.order_no as order_key,
        orders.platform,
        orders.order_no,
        'STORE_' || upper(orders.platform) as channel,
        orders.buyer_account,
        orders.phone,
        {{ normalise_msisdn('orders.phone') }} as msisdn,
        orders.created_time::timestamp at time zone 'Asia/Shanghai' as created_at,
        orders.paid_time::timestamp at time zone 'Asia/Shanghai' as paid_at,
        orders.item,
        orders.sku,
        codes.business_type,
        orders.quantity::integer as quantity,
        replace(replace(orders.amount_yuan, '¥', ''), ',', '')::numeric(14, 2) as amount_yuan,
        orders.status,
        statuses.status_group,
        statuses.is_success,
        statuses.is_refunded,
        orders.member_id,
        orders.pickup_hall as pickup_hall_code,
        split_part(orders.pickup_hall, '-', 1) as pickup_region_code,
        files.business_date as file_business_date,
        orders._file_id as file_id,
        orders._line as line_no,
        orders._loaded_at as loaded_at,
        row_number() over (
            partition by orders.platform, orders.order_no
            order by files.business_date desc, orders._file_id desc, orders._line desc
        ) as recency_no,
        count(*) over (partition by orders.platform, orders.order_no) as deliveries
    from orders
    inner join files
        on orders._file_id = files.file_id
    left join statuses
        on
            orders.platform = statuses.platform
            and orders.status = statuses.status
    left join codes
        on codes.code = split_part(orders.sku, '-', 1) || '-'
),

final as (
    select
        order_key,
        platform,
        order_no,
        channel,
        buyer_account,
        case when msisdn is null then phone end as masked_phone,
        msisdn,
        created_at,
        (created_at at time zone 'Asia/Shanghai')::date as created_date,
        paid_at,
        item,
        sku,
        business_type,
        quantity,
        amount_yuan,
        status,
        status_group,
        is_success,
        is_refunded,
        member_id,
        pickup_hall_code,
        pickup_region_code,
        pickup_hall_code is not null as has_pickup_hall,
        deliveries,
        file_business_date,
        file_id,
        line_no,
        loaded_at
    from typed
    where recency_no = 1
)

select * from final
