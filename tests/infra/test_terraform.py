"""terraform fmt, init (offline, no backend) and validate over every root module."""

import subprocess

import pytest

from tests.infra import terraform
from tests.infra.hcl import INFRA, module


def test_fmt_is_clean():
    exe = terraform.require_terraform()
    result = subprocess.run([exe, "fmt", "-check", "-recursive", "-diff", "-no-color", str(INFRA)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("root", terraform.AWS_ROOTS)
def test_init_and_validate(tf_workspace, root):
    init = tf_workspace.init(root)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = tf_workspace.run(root, "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "The configuration is valid" in validate.stdout


@pytest.mark.parametrize("root", [r for r in terraform.AWS_ROOTS if (INFRA / r / "tests").is_dir()])
def test_terraform_test_with_mocked_aws(tf_workspace, root):
    """`terraform test`: a mocked apply evaluates every expression (container definitions,
    dashboards, alarms) that validate leaves unknown, and checks what it built."""
    init = tf_workspace.init(root)
    assert init.returncode == 0, init.stdout + init.stderr
    result = tf_workspace.run(root, "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_aws_roots_use_no_other_provider():
    """The mirror holds hashicorp/aws only; `random` and friends would fail init here (and in CI)."""
    for root in [*terraform.AWS_ROOTS, "modules/network"]:
        mod = module(root)
        for block in mod.terraform:
            for providers in block.get("required_providers", []):
                assert set(providers) == {"aws"}, root
                assert providers["aws"]["source"] == "hashicorp/aws", root
        kinds = [*mod.resources, *mod.data]
        assert kinds and all(k.startswith("aws_") or k == "terraform_remote_state" for k in kinds), (root, kinds)
