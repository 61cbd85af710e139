"""Runs terraform against a copy of infra/ with the machine's offline provider mirror.

The copy (infra/ plus the one Cloudflare list it reads) lives in a temporary
directory per test run, so .terraform, the lock files and the plugin cache never
land in the repository. Only hashicorp/aws comes from the mirror; nothing is
downloaded.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests import services
from tests.infra.hcl import INFRA, ROOT

# Every root module but Cloudflare's (its provider is not in the mirror): the stages in apply order.
STAGES = ["bootstrap", "networking", "data", "compute"]
AWS_ROOTS = [stage for stage in STAGES if any((INFRA / stage).glob("*.tf"))]
MIRROR_GLOB = "registry.terraform.io/hashicorp/aws"
_MIRROR_PLACES = ["/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins", str(Path.home() / ".terraform.d/plugins"), str(Path.home() / ".local/share/terraform/plugins")]


def terraform_bin():
    return shutil.which("terraform")


def find_mirror():
    """A filesystem mirror holding hashicorp/aws (TF_PROVIDER_MIRROR overrides the search)."""
    places = [os.environ["TF_PROVIDER_MIRROR"]] if os.environ.get("TF_PROVIDER_MIRROR") else _MIRROR_PLACES
    for place in places:
        if (Path(place) / MIRROR_GLOB).is_dir():
            return Path(place)
    return None


def require_terraform():
    services.require(terraform_bin(), "terraform is not installed (https://developer.hashicorp.com/terraform/install; 1.11+)")
    return terraform_bin()


def require_mirror():
    mirror = find_mirror()
    services.require(
        mirror,
        "no offline provider mirror with registry.terraform.io/hashicorp/aws "
        f"(looked in {', '.join(_MIRROR_PLACES)}; set TF_PROVIDER_MIRROR)",
    )
    return mirror


class Workspace:
    """infra/ copied to a temporary directory, with a CLI config that uses the mirror only."""

    def __init__(self, mirror):
        self.dir = Path(tempfile.mkdtemp(prefix="convertall-infra-"))
        self._initialised = {}
        shutil.copytree(INFRA, self.dir / "infra", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        (self.dir / "convertall").mkdir()
        shutil.copy(ROOT / "convertall" / "cloudflare_ips.txt", self.dir / "convertall")
        self.cli_config = self.dir / "terraform.rc"
        self.cli_config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
            "}\n"
        )
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "NO_COLOR": "1",
        }

    def run(self, root, *args, timeout=300):
        return subprocess.run(
            [terraform_bin(), *args, "-no-color"],
            cwd=self.dir / "infra" / root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def init(self, root):
        """`terraform init -backend=false` once per root and run (the mirror only)."""
        if root not in self._initialised:
            self._initialised[root] = self.run(root, "init", "-backend=false", "-input=false")
        return self._initialised[root]

    def console(self, root, expression):
        """The JSON value of one expression, evaluated in a root of the copy (no init needed without providers)."""
        result = subprocess.run(
            [terraform_bin(), "console"],
            input=f"jsonencode({expression})\n",
            cwd=self.dir / "infra" / root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(json.loads(result.stdout.strip()))

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
