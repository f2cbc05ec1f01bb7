"""Provisions Superset from code: the admin user and the "Channel KPIs" bundle.

This script runs **inside the Superset virtual env** (``$DW_HOME/superset-venv/bin/python``, with
``SUPERSET_CONFIG_PATH`` set), started by :func:`channel_dw.bi.control.up`; it must not import
``channel_dw``, which is not installed there. Secrets come from files, never from arguments:

    python provision.py --secrets DIR --bundle channel_kpis.zip

``DIR/admin_password`` is the password of the user ``admin`` (created, or reset to it, so that
``channel-dw bi status`` always shows the one that works); ``DIR/reader_password`` is the
warehouse login's, given to the database of the bundle.

The bundle is Superset's own export format (``metadata.yaml``, ``databases/``, ``datasets/``,
``charts/``, ``dashboards/``). Each kind is imported by its own command with ``overwrite=True``:
importing a dashboard alone would leave charts and datasets that already exist as they were, so a
chart changed in the repository would never reach a running Superset. Assets are matched by their
UUIDs, so a second run updates them in place and creates nothing new.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from zipfile import ZipFile

log = logging.getLogger("channel_dw.bi.provision")

ADMIN = {"username": "admin", "first_name": "Channel", "last_name": "Admin"}
ADMIN_EMAIL = "admin@channel-dw.invalid"
DATABASE_FILE_PREFIX = "databases/"


def ensure_admin(security_manager, password: str) -> None:
    role = security_manager.find_role("Admin")
    if role is None:
        raise SystemExit("the role Admin does not exist: `superset init` has not run")
    user = security_manager.find_user(username=ADMIN["username"])
    if user is None:
        created = security_manager.add_user(
            ADMIN["username"],
            ADMIN["first_name"],
            ADMIN["last_name"],
            ADMIN_EMAIL,
            role,
            password=password,
        )
        if not created:
            raise SystemExit("could not create the Superset user admin (see the log above)")
        log.info("created the Superset user %s", ADMIN["username"])
    else:
        security_manager.reset_password(user.id, password)
        if role not in user.roles:
            user.roles.append(role)
            security_manager.update_user(user)
        log.info("the Superset user %s exists; its password is the one kept", ADMIN["username"])


def import_bundle(bundle: Path, reader_password: str) -> None:
    from superset import db
    from superset.commands.chart.importers.v1 import ImportChartsCommand
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
    from superset.commands.database.importers.v1 import ImportDatabasesCommand
    from superset.commands.dataset.importers.v1 import ImportDatasetsCommand
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    with ZipFile(bundle) as archive:
        contents = get_contents_from_bundle(archive)
    passwords = {
        name: reader_password for name in contents if name.startswith(DATABASE_FILE_PREFIX)
    }
    for command in (
        ImportDatabasesCommand,
        ImportDatasetsCommand,
        ImportChartsCommand,
        ImportDashboardsCommand,
    ):
        command(contents, passwords=passwords, overwrite=True).run()
        log.info("imported %s", command.__name__.removeprefix("Import").removesuffix("Command"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.utils.core import override_user

        ensure_admin(security_manager, (args.secrets / "admin_password").read_text().strip())
        admin = security_manager.find_user(username=ADMIN["username"])
        with override_user(admin):
            import_bundle(args.bundle, (args.secrets / "reader_password").read_text().strip())
    log.info("Superset provisioned from %s", args.bundle.name)


if __name__ == "__main__":
    sys.exit(main())
