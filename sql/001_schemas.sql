-- Schemas of the warehouse. Applied by `channel-dw db init` (and before every load); idempotent.
--   raw        the exports as delivered, one partition per loaded file (see raw_files)
--   raw_files  per-file tables: being loaded/validated (not attached) or attached to raw.*
--   audit      the file ledger, quarantined rows and data-quality results
create schema if not exists raw;
create schema if not exists raw_files;
create schema if not exists audit;
