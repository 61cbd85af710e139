"""`.env.example` names every environment variable the settings read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def names_in_settings():
    text = (ROOT / "convertall" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', text))
    # _quota(tier, ...) reads QUOTA_<TIER>_<FIELD>.
    tiers = re.findall(r'_quota\("(\w+)"', text)
    fields = re.findall(r'env\.int\(prefix \+ "(\w+)"', text)
    names |= {f"QUOTA_{t.upper()}_{f}" for t in tiers for f in fields}
    gunicorn = (ROOT / "convertall" / "gunicorn.conf.py").read_text()
    names |= set(re.findall(r'environ\.get\("([A-Z_]+)"', gunicorn))
    return names


def test_env_example_lists_every_setting():
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = sorted(names_in_settings() - listed)
    assert not missing, f"add these to .env.example: {missing}"


def test_the_example_values_as_they_are_give_a_working_configuration(tmp_path):
    import os
    import subprocess
    import sys

    values = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M))
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(values, DJANGO_SETTINGS_MODULE="convertall.settings", CONVERTALL_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
