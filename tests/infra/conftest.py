import pytest

from tests.infra import terraform


@pytest.fixture(scope="session")
def tf_workspace():
    terraform.require_terraform()
    mirror = terraform.require_mirror()
    ws = terraform.Workspace(mirror)
    yield ws
    ws.close()
