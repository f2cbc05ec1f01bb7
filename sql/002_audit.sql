-- The file ledger: one row for every delivery of every file the loader has seen.
create table if not exists audit.file_ledger (
    file_id bigserial primary key,
    source text not null,
    file_name text not null,
    file_path text not null,
    business_date date not null,
    size_bytes bigint not null,
    sha256 text,
    status text not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    rule text,
    reason text,
    duplicate_of bigint references audit.file_ledger (file_id),
    superseded_by bigint references audit.file_ledger (file_id),
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    loaded_by text,
    constraint file_ledger_status_check check (
        status in ('loading', 'loaded', 'skipped', 'superseded', 'rejected', 'abandoned')
    )
);

comment on table audit.file_ledger is
    'Every delivery of every export file: loaded, skipped (identical re-delivery), superseded '
    '(replaced by a corrected delivery of the same name), rejected (with rule and reason), '
    'abandoned (an interrupted attempt, cleaned up by the retry) or loading (in progress).';

-- The checksum of a first delivery of a name is taken while it loads (channel_dw.ingest.delivery):
-- a row has it once it has ended, loaded, skipped or rejected. A ledger made before 2026-12-04
-- had sha256 not null; the change is made once (an ALTER TABLE locks the ledger even when there
-- is nothing to change).
do $$
begin
    if not exists (
        select from pg_constraint
        where conname = 'file_ledger_sha256_known' and conrelid = 'audit.file_ledger'::regclass
    ) then
        alter table audit.file_ledger alter column sha256 drop not null;
        alter table audit.file_ledger add constraint file_ledger_sha256_known
            check (sha256 is not null or status in ('loading', 'abandoned'));
    end if;
end
$$;

-- At most one live delivery of a file name per source.
create unique index if not exists file_ledger_one_live
    on audit.file_ledger (source, file_name) where status = 'loaded';
create index if not exists file_ledger_by_date on audit.file_ledger (business_date, source);

-- Rows that broke a row rule. Their file's good rows were loaded; nothing is dropped silently.
create table if not exists audit.quarantine (
    file_id bigint not null references audit.file_ledger (file_id),
    source text not null,
    file_name text not null,
    line_no integer not null,
    rule text not null,
    message text not null,
    raw_text text,
    quarantined_at timestamptz not null default now()
);
create index if not exists quarantine_by_file on audit.quarantine (file_id);

-- Great Expectations results, one row per expectation per file checked.
create table if not exists audit.check_results (
    file_id bigint not null references audit.file_ledger (file_id),
    source text not null,
    file_name text not null,
    expectation text not null,
    column_name text,
    severity text not null,
    success boolean not null,
    observed text,
    details jsonb,
    checked_at timestamptz not null default now()
);
create index if not exists check_results_by_file on audit.check_results (file_id);
