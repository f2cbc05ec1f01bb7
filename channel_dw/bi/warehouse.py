"""What Superset needs on the PostgreSQL server: its metadata database and the warehouse login.

Both live on the server the settings point at (the embedded one by default):

- the database ``superset`` holds Superset's own state (users, charts, dashboards, query history);
- the login ``superset_reader`` is what Superset's queries run as: a member of ``bi_reader`` and of
  nothing else, so it reads schema ``marts`` and is refused ``raw``, ``staging``, ``audit`` and the
  rest (``sql/003_bi_reader.sql``). Its password is set as a SCRAM-SHA-256 verifier computed here,
  so the clear password never reaches the server, its log or ``pg_stat_activity``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from urllib.parse import quote

import psycopg2
from psycopg2 import errors, sql

from channel_dw.config import Settings
from channel_dw.db.connection import connect
from channel_dw.db.schema import ensure_schema
from channel_dw.errors import ConfigError

log = logging.getLogger(__name__)

METADATA_DB = "superset"
READER_ROLE = "superset_reader"
BI_ROLE = "bi_reader"
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


class SupersetError(ConfigError):
    """Superset could not be set up or started; the message says which step failed, why, and
    where the log is. (A ConfigError, so the CLI prints it as an error rather than a trace.)"""


def _url(s: Settings, *, user: str, password: str | None, dbname: str) -> str:
    p = s.db_params()
    auth = quote(user, safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    return f"postgresql+psycopg2://{auth}@{p['host']}:{p['port']}/{quote(dbname, safe='')}"


def metadata_url(s: Settings) -> str:
    """SQLAlchemy URL of Superset's metadata database, as the warehouse's configured user (with
    its password, if the URL has one: it goes only into the mode-600 superset_config.py)."""
    p = s.db_params()
    return _url(s, user=p["user"], password=p["password"] or None, dbname=METADATA_DB)


def reader_url(s: Settings, masked_password: str) -> str:
    """SQLAlchemy URL of the warehouse as ``superset_reader``, the password given as a mask."""
    return _url(s, user=READER_ROLE, password=masked_password, dbname=s.db_params()["dbname"])


def scram_sha256_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` string PostgreSQL keeps
    in pg_authid for ``password`` (RFC 5802/7677, as libpq's PQencryptPasswordConn makes it)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def metadata_db_initialised(s: Settings) -> bool:
    """Whether the metadata database exists and Superset's migrations have run in it."""
    params = {**s.db_params(), "dbname": METADATA_DB}
    try:
        conn = psycopg2.connect(application_name="channel-dw-bi", **params)
    except psycopg2.OperationalError:
        return False
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("select to_regclass('public.alembic_version') is not null")
        if not cur.fetchone()[0]:
            return False
        cur.execute("select count(*) from public.alembic_version")
        return cur.fetchone()[0] > 0


def ensure_metadata_db(s: Settings) -> bool:
    """Creates the database ``superset`` on the warehouse's server unless it exists; True when
    it was created now."""
    with contextlib.closing(connect(s, application_name="channel-dw-bi")) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (METADATA_DB,))
            if cur.fetchone() is not None:
                return False
            try:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(METADATA_DB)))
            except errors.DuplicateDatabase:
                return False  # made by a concurrent `up`
            except errors.InsufficientPrivilege as exc:
                user = s.db_params()["user"]
                raise SupersetError(
                    f"{user} may not create Superset's metadata database on "
                    f"{s.redacted_url()}: ask a DBA to run "
                    f'"create database {METADATA_DB} owner {user}" once'
                ) from exc
    log.info("created the Superset metadata database %s", METADATA_DB)
    return True


def ensure_reader_login(s: Settings, password: str) -> None:
    """Creates (or resets) the login ``superset_reader``: member of ``bi_reader`` only, read-only
    transactions, the given password. Also (re)applies the warehouse DDL, which creates
    ``bi_reader`` and grants it the marts as they are now."""
    with contextlib.closing(connect(s, application_name="channel-dw-bi")) as conn:
        ensure_schema(conn)  # sql/003_bi_reader.sql among them
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (BI_ROLE,))
            if cur.fetchone() is None:
                raise SupersetError(
                    f"the role {BI_ROLE} does not exist on {s.redacted_url()} and "
                    f"{s.db_params()['user']} may not create it: ask a DBA to run "
                    f'"create role {BI_ROLE} nologin", then `channel-dw db start` (it grants)'
                )
            cur.execute(
                "select rolsuper or rolcreatedb or rolcreaterole or rolreplication"
                " or rolbypassrls from pg_roles where rolname = %s",
                (READER_ROLE,),
            )
            found = cur.fetchone()
            if found is not None and found[0]:
                raise SupersetError(
                    f"the role {READER_ROLE} exists with more than a reader's attributes "
                    "(superuser, createdb, createrole, replication or bypassrls); it was not "
                    f'made by channel-dw: drop it ("drop role {READER_ROLE}") and run up again'
                )
            role = sql.Identifier(READER_ROLE)
            verifier = sql.Literal(scram_sha256_verifier(password))
            verb = sql.SQL("alter" if found is not None else "create")
            try:
                cur.execute(
                    sql.SQL("{} role {} with login inherit password {}").format(
                        verb, role, verifier
                    )
                )
            except errors.InsufficientPrivilege as exc:
                raise SupersetError(
                    f"{s.db_params()['user']} may not create or change the login {READER_ROLE} "
                    f'on {s.redacted_url()}: ask a DBA to run "create role {READER_ROLE} login '
                    f'in role {BI_ROLE}" and to let {s.db_params()["user"]} set its password '
                    "(CREATEROLE), or run up as a user who may"
                ) from exc
            cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(BI_ROLE), role))
            cur.execute(
                "select granted.rolname from pg_auth_members as m"
                " join pg_roles as granted on granted.oid = m.roleid"
                " join pg_roles as member on member.oid = m.member"
                " where member.rolname = %s and granted.rolname <> %s",
                (READER_ROLE, BI_ROLE),
            )
            for (other,) in cur.fetchall():
                log.warning(
                    "revoking %s from %s: it reads through %s only", other, READER_ROLE, BI_ROLE
                )
                cur.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(other), role))
            cur.execute(
                sql.SQL("alter role {} set default_transaction_read_only = on").format(role)
            )
    log.info("login %s is a member of %s only", READER_ROLE, BI_ROLE)
