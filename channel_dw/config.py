"""The one place where settings are resolved.

Everything that talks to the warehouse (loaders, CLI, Airflow tasks, dbt's ``profiles.yml``,
Great Expectations) asks this module, so one environment variable moves them all:

- ``DW_DATABASE_URL``: a real PostgreSQL instead of the embedded server (default: embedded);
- ``DW_HOME``: local state, git-ignored (default ``<project>/.dw``);
- ``DW_LANDING``: the landing root, one folder per source (default ``$DW_HOME/landing``);
- ``DW_REPORTS``: where reports are written (default ``$DW_HOME/reports``);
- ``DW_EMBEDDED_PORT``: port of the embedded server (default 55432, or a free port when that is
  taken; remembered in ``$DW_HOME/port``);
- ``DW_PII_KEY``: the secret of the keyed hash (HMAC) that stands in for phones, e-mails and
  member ids in the marts. It is kept outside the database. Without it, a random key is made once
  and kept in ``$DW_HOME/pii.key`` (fine for a laptop; production sets the variable from its
  secret store, and must keep it: a new key changes every hash);
- ``DW_ALERT_WEBHOOK``: a URL that receives every alert (a failed task, a rejected file,
  quarantined rows) as a JSON POST; ``DW_ALERT_EMAIL``: comma-separated addresses that receive
  them by e-mail through Airflow's SMTP connection (``smtp_default``). With neither, alerts are
  only logged.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DB = "channel_dw"
EMBEDDED_USER = "postgres"


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path
    reports: Path
    database_url: str
    embedded: bool
    embedded_port: int
    alert_webhook: str | None = None  # DW_ALERT_WEBHOOK: alerts POSTed there as JSON
    alert_emails: tuple[str, ...] = ()  # DW_ALERT_EMAIL: through Airflow's SMTP connection

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    def db_params(self) -> dict[str, str]:
        """host/port/user/password/dbname of the URL, for dbt's profile and Airflow."""
        parts = urlsplit(self.database_url)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "user": parts.username or "",
            "password": parts.password or "",
            "dbname": parts.path.lstrip("/") or "postgres",
        }

    def pii_key(self) -> str:
        """DW_PII_KEY, else this checkout's own random key in ``$DW_HOME/pii.key``."""
        key = os.environ.get("DW_PII_KEY", "").strip()
        if key:
            if len(key) < 16:
                raise ValueError(
                    "DW_PII_KEY is shorter than 16 characters: a short key can be guessed, and "
                    "with it every hashed phone number; use e.g. `openssl rand -hex 32`"
                )
            return key
        path = self.home / "pii.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32) + "\n")
        return path.read_text().strip()

    def redacted_url(self) -> str:
        p = self.db_params()
        return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


DEFAULT_PORT = 55432


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _embedded_port(home: Path) -> int:
    """DW_EMBEDDED_PORT, else the port this checkout's server was given when it was first set up
    (``$DW_HOME/port``): 55432 when free, otherwise any free port, so two checkouts coexist."""
    if "DW_EMBEDDED_PORT" in os.environ:
        return int(os.environ["DW_EMBEDDED_PORT"])
    remembered = home / "port"
    if remembered.exists():
        return int(remembered.read_text().strip())
    port = DEFAULT_PORT
    if not port_is_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    home.mkdir(parents=True, exist_ok=True)
    remembered.write_text(f"{port}\n")
    return port


def count_from_env(name: str, default: int, what: str) -> int:
    """A count the user sets in ``name`` (``default`` when unset); at least 1."""
    value = os.environ.get(name, str(default))
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of {what}, not {value!r}") from None
    return max(1, count)


def settings() -> Settings:
    env = os.environ
    home = Path(env.get("DW_HOME", PROJECT_ROOT / ".dw")).resolve()
    url = env.get("DW_DATABASE_URL", "").strip()
    embedded = not url
    port = _embedded_port(home) if embedded else int(env.get("DW_EMBEDDED_PORT", DEFAULT_PORT))
    if embedded:
        url = f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/{EMBEDDED_DB}"
    landing = Path(env.get("DW_LANDING", home / "landing")).resolve()
    reports = Path(env.get("DW_REPORTS", home / "reports")).resolve()
    return Settings(
        home=home,
        landing=landing,
        reports=reports,
        database_url=url,
        embedded=embedded,
        embedded_port=port,
        alert_webhook=env.get("DW_ALERT_WEBHOOK", "").strip() or None,
        alert_emails=tuple(
            part.strip() for part in env.get("DW_ALERT_EMAIL", "").split(",") if part.strip()
        ),
    )
