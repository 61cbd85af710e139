"""Fixtures of the document tests, defined once for the package: a session
fixture imported into each module would be built once per module."""

from tests.documents_fixtures import documents, office_bridge  # noqa: F401
