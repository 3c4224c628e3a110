"""The law tests written for `make mutate` run on the audit catalogue's titanoboa world."""

from tests.audit.conftest import world  # noqa: F401 (the fixture)
