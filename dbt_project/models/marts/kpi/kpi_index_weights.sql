-- The capability index's dimension weights: the normalised principal eigenvector of the AHP
-- pairwise matrix in seeds/ahp_pairwise.csv, with its consistency ratio. The weights are worked
-- out when the model is built (macros/ahp.sql); a matrix whose consistency ratio is 0.1 or more
-- stops the build with an error naming the ratio.
{%- set dimensions = ['reach', 'efficiency', 'experience', 'marketing', 'synergy'] %}
{%- set matrix_relation = ref('ahp_pairwise') %}
{%- set ahp = none %}
{%- if execute %}
    {%- set table = run_query(
        'select dimension, ' ~ dimensions | join(', ') ~ ' from ' ~ matrix_relation
    ) %}
    {%- set by_dimension = {} %}
    {%- for row in table.rows %}
        {%- do by_dimension.update({row['dimension']: row}) %}
    {%- endfor %}
    {%- set matrix = [] %}
    {%- for name in dimensions %}
        {%- if name not in by_dimension %}
            {{ exceptions.raise_compiler_error(
                "seeds/ahp_pairwise.csv has no row for the dimension " ~ name) }}
        {%- endif %}
        {%- set cells = [] %}
        {%- for column in dimensions %}
            {%- do cells.append(by_dimension[name][column]) %}
        {%- endfor %}
        {%- do matrix.append(cells) %}
    {%- endfor %}
    {%- set ahp = ahp_weights(dimensions, matrix) %}
{%- endif %}

with weights (dimension, weight, lambda_max, consistency_ratio) as (
    values
    {%- for name in dimensions %}
        (
            '{{ name }}',
            {{ ahp.weights[name] if ahp else 0 }}::numeric(10, 6),
            {{ ahp.lambda_max if ahp else 0 }}::numeric(10, 6),
            {{ ahp.consistency_ratio if ahp else 0 }}::numeric(10, 6)
        ){{ ',' if not loop.last }}
    {%- endfor %}
),

final as (
    select
        dimension,
        weight,
        lambda_max,
        consistency_ratio
    from weights
)

select * from final
