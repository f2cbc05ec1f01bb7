-- Flagship store orders at their latest status: paid and completed orders are successful,
-- closed and cancelled ones failed; refunded orders are successful attempts without sales.
with orders as (
    select * from {{ ref('stg_stores__orders') }}
),

interactions as (
    -- found through the facts' partial index on source_record_id of the store rows: a scan of
    -- every record was most of this model's time on a year of history
    select * from {{ ref('fct_interactions') }}
    where source = 'stores'
),

final as (
    select
        orders.order_key,
        interactions.interaction_key,
        orders.platform,
        orders.channel,
        orders.order_no,
        orders.created_at,
        orders.created_date,
        date_trunc('month', orders.created_date)::date as created_month,
        orders.paid_at,
        orders.item,
        orders.sku,
        orders.business_type,
        orders.quantity,
        orders.amount_yuan,
        orders.status,
        orders.status_group,
        orders.is_success,
        orders.is_refunded,
        case when orders.is_success and not orders.is_refunded then orders.amount_yuan end
            as sales_amount_yuan,
        orders.pickup_hall_code,
        orders.pickup_region_code,
        orders.has_pickup_hall,
        orders.deliveries as status_deliveries,
        coalesce(orders.masked_phone, {{ mask_msisdn('orders.msisdn') }}) as phone_masked,
        {{ pii_hash('orders.msisdn') }} as msisdn_hash,
        {{ pii_hash("orders.platform || '/' || orders.buyer_account") }} as buyer_account_hash,
        {{ pii_hash('orders.member_id') }} as member_id_hash,
        interactions.customer_id,
        interactions.is_identified,
        interactions.identified_by,
        interactions.region_code,
        orders.file_business_date,
        orders.file_id
    from orders
    inner join interactions
        on orders.order_key = interactions.source_record_id
)

select * from final
