{#- The analytic hierarchy process (层次分析法) for the capability index's dimension weights.

    ahp_weights(dimensions, matrix) takes the dimension names and the pairwise comparison matrix
    (rows of numbers or "a/b" texts, Saaty's 1-9 scale) and returns {"weights": {name: w},
    "lambda_max": l, "consistency_index": ci, "consistency_ratio": cr}. The weights are the
    normalised principal eigenvector (power iteration); CR = CI / RI with CI = (lambda_max - n) /
    (n - 1) and Saaty's random index RI. A matrix that is not square, not positive, not reciprocal,
    off the 1/9..9 scale, or whose CR is 0.1 or more is refused with an error that says why. -#}
{% macro ahp_weights(dimensions, matrix) %}
    {%- set n = dimensions | length -%}
    {%- set random_index = {3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45} -%}
    {%- if n not in random_index -%}
        {{ exceptions.raise_compiler_error("AHP needs 3 to 9 dimensions, got " ~ n) }}
    {%- endif -%}
    {%- if matrix | length != n -%}
        {{ exceptions.raise_compiler_error(
            "the AHP matrix has " ~ (matrix | length) ~ " rows for " ~ n ~ " dimensions") }}
    {%- endif -%}
    {%- set a = [] -%}
    {%- for row in matrix -%}
        {%- if row | length != n -%}
            {{ exceptions.raise_compiler_error(
                "row " ~ dimensions[loop.index0] ~ " of the AHP matrix has " ~ (row | length)
                ~ " values; it needs " ~ n) }}
        {%- endif -%}
        {%- set values = [] -%}
        {%- for cell in row -%}
            {%- set text = cell | string | trim -%}
            {%- if '/' in text -%}
                {%- set parts = text.split('/') -%}
                {%- set value = (parts[0] | float) / (parts[1] | float) -%}
            {%- else -%}
                {%- set value = text | float -%}
            {%- endif -%}
            {%- if value < 1 / 9 - 0.000001 or value > 9.000001 -%}
                {{ exceptions.raise_compiler_error(
                    "AHP matrix cell (" ~ dimensions[loop.index0] ~ "): " ~ text
                    ~ " is off Saaty's scale 1/9 .. 9") }}
            {%- endif -%}
            {%- do values.append(value) -%}
        {%- endfor -%}
        {%- do a.append(values) -%}
    {%- endfor -%}
    {%- for i in range(n) -%}
        {%- for j in range(n) -%}
            {%- if (a[i][j] * a[j][i] - 1) | abs > 0.01 -%}
                {{ exceptions.raise_compiler_error(
                    "the AHP matrix is not reciprocal: " ~ dimensions[i] ~ " vs " ~ dimensions[j]
                    ~ " is " ~ a[i][j] ~ " but " ~ dimensions[j] ~ " vs " ~ dimensions[i] ~ " is "
                    ~ a[j][i] ~ " (it must be 1 / " ~ a[i][j] ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set ns = namespace(w=[]) -%}
    {%- for i in range(n) -%}{%- do ns.w.append(1.0 / n) -%}{%- endfor -%}
    {%- for _ in range(200) -%}
        {%- set v = [] -%}
        {%- for i in range(n) -%}
            {%- set s = namespace(total=0.0) -%}
            {%- for j in range(n) -%}{%- set s.total = s.total + a[i][j] * ns.w[j] -%}{%- endfor -%}
            {%- do v.append(s.total) -%}
        {%- endfor -%}
        {%- set ns.w = [] -%}
        {%- for x in v -%}{%- do ns.w.append(x / (v | sum)) -%}{%- endfor -%}
    {%- endfor -%}
    {%- set lam = namespace(total=0.0) -%}
    {%- for i in range(n) -%}
        {%- set s = namespace(total=0.0) -%}
        {%- for j in range(n) -%}{%- set s.total = s.total + a[i][j] * ns.w[j] -%}{%- endfor -%}
        {%- set lam.total = lam.total + s.total / ns.w[i] -%}
    {%- endfor -%}
    {%- set lambda_max = lam.total / n -%}
    {%- set ci = (lambda_max - n) / (n - 1) -%}
    {%- set cr = ci / random_index[n] -%}
    {%- if cr >= 0.1 -%}
        {{ exceptions.raise_compiler_error(
            "the AHP pairwise matrix is too inconsistent to give weights: its consistency ratio is "
            ~ (cr | round(3)) ~ " (lambda_max " ~ (lambda_max | round(3)) ~ "), and Saaty's limit is"
            ~ " below 0.1. Revise the comparisons in dbt_project/seeds/ahp_pairwise.csv so that"
            ~ " they agree with each other (if A > B and B > C, then A > C by about the product).") }}
    {%- endif -%}
    {%- set weights = {} -%}
    {%- for name in dimensions -%}{%- do weights.update({name: ns.w[loop.index0]}) -%}{%- endfor -%}
    {{ return({"weights": weights, "lambda_max": lambda_max, "consistency_index": ci,
               "consistency_ratio": cr}) }}
{% endmacro %}

{#- `channel-dw dbt run-operation ahp_check --args '{matrix: [[1, 3, ...], ...]}'`: the weights
    and consistency ratio of a matrix over the five dimensions, before putting it in the seed. -#}
{% macro ahp_check(matrix, dimensions=['reach', 'efficiency', 'experience', 'marketing', 'synergy']) %}
    {%- set result = ahp_weights(dimensions, matrix) -%}
    {%- for name in dimensions -%}
        {{ log(name ~ ": " ~ (result.weights[name] | round(4)), info=true) }}
    {%- endfor -%}
    {{ log("consistency ratio: " ~ (result.consistency_ratio | round(4)), info=true) }}
{% endmacro %}
