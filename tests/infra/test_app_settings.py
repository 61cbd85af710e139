"""The settings the task definitions rely on: the database URL from RDS's secret parts."""

import json
import os
import subprocess
import sys

from tests.infra.hcl import ROOT

PROBE = (
    "import json; from django.conf import settings; d = settings.DATABASES['default'];"
    "print(json.dumps([d['ENGINE'], d['HOST'], d['PORT'], d['NAME'], d['USER'], d['PASSWORD'], d['OPTIONS'].get('sslmode')]))"
)


def database(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "DJANGO_SETTINGS_MODULE": "convertall.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_url_built_from_the_parts_keeps_any_password():
    # RDS-generated passwords may hold URL delimiters; they must survive the URL intact.
    password = "p@ss:w/rd%#?x"
    got = database(DATABASE_HOST="db.internal", DATABASE_USER="convertall", DATABASE_PASSWORD=password)
    assert got == ["convertall.db.postgresql", "db.internal", 5432, "convertall", "convertall", password, "require"]


def test_database_url_wins_over_the_parts():
    got = database(DATABASE_URL="postgres://a:b@h:6543/n", DATABASE_HOST="ignored", DATABASE_USER="x", DATABASE_PASSWORD="y")
    assert got[1:6] == ["h", 6543, "n", "a", "b"]
