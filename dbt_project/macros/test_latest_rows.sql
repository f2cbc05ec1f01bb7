{#- The data tests of the incremental tables check the rows the latest run wrote.

    dbt_project.yml gives the tests of the staging models (models/staging), the facts and KPI
    tables (models/marts/channel and kpi) and the incremental identity graph
    (models/intermediate/identity) the `where` placeholder `__written_by_the_latest_run__`. On a
    relation with a `dbt_updated_at` column (the channels' incremental staging tables, the
    incremental facts, the survey view over them, the month-incremental KPI tables) it becomes "the rows of the newest `dbt_updated_at`": after a full refresh that is every row;
    after a daily run, the rows that run wrote, so the daily tests do not read a year of history
    the earlier runs already checked. Unique keys are also unique indexes on those tables, so a
    duplicate against an older row cannot get in. The tests of the `raw` tables (sources, one
    partition per file) have the placeholder `__files_loaded_since_the_facts_previous_run__`:
    they read the files loaded since the facts' run before the latest one
    (`loaded_since_the_facts_previous_run`). Any other model's tests read every row, as do
    all tests with `--vars '{test_every_row: true}'` (docs/mart.md, "Tests on a year of
    history"). -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__written_by_the_latest_run__' -%}
        {%- set where = '' -%}
        {%- if execute and not var('test_every_row', false) -%}
            {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') -%}
            {%- if 'dbt_updated_at' in columns | list -%}
                {%- set where = written_by_the_latest_run(relation) -%}
            {%- endif -%}
        {%- endif -%}
    {%- elif where == '__files_loaded_since_the_facts_previous_run__' -%}
        {%- set where = loaded_since_the_facts_previous_run() -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The condition "written by the latest run" on a relation with `dbt_updated_at`, for the generic
    tests above and the singular tests that read a fact (`true` with `test_every_row`). The newest
    time is read first and put in the query as a literal: as a sub-select it is a parameter to the
    planner, which then guessed a seventh of the table for it (one value in each of the few runs
    the statistics know of) and hashed every fact to check 17,000 hotline calls against them (3 s
    of a 12-month day; with the literal, an index probe each). -#}
{% macro written_by_the_latest_run(relation) -%}
    {%- if not execute or var('test_every_row', false) -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set newest -%}
        select max(latest.dbt_updated_at)::text from {{ relation }} as latest
    {%- endset -%}
    {%- set at = run_query(newest).columns[0].values()[0] -%}
    {%- if at is none -%}
        {{- return('false') -}}
    {%- endif -%}
    {{- return("dbt_updated_at = '" ~ at ~ "'::timestamptz") -}}
{%- endmacro %}

{#- The time of the run before the latest one that wrote `relation` (the newest `dbt_updated_at`
    below the newest), as text; none after a full refresh (one time only), with
    `test_every_row`, or while parsing. Every file loaded after it was read by the latest run or
    is still unread: the reconciliation test checks their days. -#}
{% macro written_before_the_latest_run(relation) -%}
    {%- if not execute or var('test_every_row', false) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set before -%}
        select max(earlier.dbt_updated_at)::text
        from {{ relation }} as earlier
        where earlier.dbt_updated_at < (select max(latest.dbt_updated_at) from {{ relation }} as latest)
    {%- endset -%}
    {{- return(run_query(before).columns[0].values()[0]) -}}
{%- endmacro %}

{#- The loaded files of the days (source and business date) that hold a file loaded after `since`
    (the reconciliation test's daily run, above): their ids as a list for `in (...)` (a raw
    table holds its own source's files only), `null` when there are none. A file loaded since
    and replaced since is replaced by one loaded since, of the same day; identical re-deliveries
    (skipped) and rejected files change no count. -#}
{% macro files_to_reconcile(since) -%}
    {%- set files -%}
        select ledger.file_id
        from {{ source('audit', 'file_ledger') }} as ledger
        where
            ledger.status = 'loaded'
            and (ledger.source, ledger.business_date) in (
                select recent.source, recent.business_date
                from {{ source('audit', 'file_ledger') }} as recent
                where
                    recent.status = 'loaded'
                    and recent.source <> 'crm'
                    and recent.finished_at > '{{ since }}'::timestamptz
            )
        order by ledger.file_id
    {%- endset -%}
    {%- set ids = run_query(files).columns[0].values() | map('int') | list if execute else [] -%}
    {{- ids | join(', ') if ids else 'null' -}}
{%- endmacro %}

{#- The condition on a `raw` table (one partition per file) for its files loaded since the run
    before the latest one that wrote `fct_interactions`: in a daily `dbt build`, whose source tests
    run before the facts, yesterday's files and today's; after it, today's. The ids go into the
    query as literals, so PostgreSQL reads those partitions only. `true` (every file) when the
    facts have one run only (a full refresh), do not exist yet, with `test_every_row`, or while
    parsing; `false` when no file was loaded since. -#}
{% macro loaded_since_the_facts_previous_run() -%}
    {%- if not execute or var('test_every_row', false) -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set facts = adapter.get_relation(
        database=target.database,
        schema=generate_schema_name('marts', none),
        identifier='fct_interactions',
    ) -%}
    {%- set since = written_before_the_latest_run(facts) if facts is not none else none -%}
    {%- if since is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set files -%}
        {#- (the ledger by name: a source() here would be a dependency the test does not declare) #}
        select ledger.file_id
        from audit.file_ledger as ledger
        where ledger.status = 'loaded' and ledger.finished_at > '{{ since }}'::timestamptz
        order by ledger.file_id
    {%- endset -%}
    {%- set ids = run_query(files).columns[0].values() | map('int') | list -%}
    {{- return('_file_id in (' ~ (ids | join(', ')) ~ ')' if ids else 'false') -}}
{%- endmacro %}
