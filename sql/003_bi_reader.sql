-- bi_reader: the role BI tools and analysts use. It reads the marts and nothing else: not raw,
-- not staging or intermediate (where phones and e-mails are in clear text), not the audit tables.
-- Give a person or a tool a login of its own and make it a member:
--     create role superset login password '...' in role bi_reader;
-- The role is created when the user running this may create roles; otherwise a DBA creates it
-- once (`create role bi_reader nologin`) and this script only grants.
do $$
begin
    if not exists (select from pg_roles where rolname = 'bi_reader') then
        if exists (
            select from pg_roles
            where rolname = current_user and (rolsuper or rolcreaterole)
        ) then
            begin
                create role bi_reader nologin;
            exception when duplicate_object or unique_violation then
                null;  -- created by a concurrent load of another database on this server
            end;
        else
            raise notice 'role bi_reader does not exist and % may not create it: ask a DBA to '
                'run "create role bi_reader nologin"; the marts stay unreadable for BI until then',
                current_user;
        end if;
    end if;
end
$$;

create schema if not exists marts;

do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        execute 'grant usage on schema marts to bi_reader';
        execute 'grant select on all tables in schema marts to bi_reader';
        -- tables dbt creates later (each build replaces them) are readable too
        execute 'alter default privileges in schema marts grant select on tables to bi_reader';
        execute 'revoke all on all tables in schema raw, audit from bi_reader';
    end if;
end
$$;

-- Nothing to create anywhere (issue #12): no temporary tables (PostgreSQL grants TEMPORARY on a
-- database to every role) and no objects in public (granted to every role before PostgreSQL 15).
-- The owner keeps both; only the roles that have them through PUBLIC (bi_reader's logins) lose
-- them. Reading files or running commands needs superuser or the pg_read_server_files /
-- pg_execute_server_program roles, which bi_reader never gets.
do $$
begin
    execute format('revoke temporary on database %I from public', current_database());
    execute 'revoke create on schema public from public';
exception when insufficient_privilege then
    raise notice '% may not revoke TEMPORARY on database % or CREATE on schema public from '
        'PUBLIC: ask its owner to, or BI logins can create temporary tables',
        current_user, current_database();
end
$$;
