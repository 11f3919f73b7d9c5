"""Settings for the fault-injection server of tests/delegation/test_faults.py.

The project settings, pointed at a database the test owns (``FAULT_DATABASE_URL``): its own
PostgreSQL server, or an SQLite file with a 1-second busy timeout so a held lock shows fast.
"""

import os

from tenantauth.settings import *  # noqa: F403
from tenantauth.settings import env

DATABASES = {"default": env.db_url_config(os.environ["FAULT_DATABASE_URL"])}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 1,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["OPTIONS"] = {"connect_timeout": 2}
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
