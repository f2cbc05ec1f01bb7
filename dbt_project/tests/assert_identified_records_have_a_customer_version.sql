-- Every identified record finds the CRM version that held at its time (the first version also
-- holds before it), so its region is the customer's, never the record's own or UNKNOWN.
select
    interaction_key,
    customer_id,
    occurred_at,
    region_source
from {{ ref('fct_interactions') }}
where
    is_identified
    and (customer_version_key is null or region_source <> 'customer')
    -- a daily run checks the rows it wrote (macros/test_latest_rows.sql)
    and {{ written_by_the_latest_run(ref('fct_interactions')) }}
