"""The cluster suite (`make test-cluster`): real Citus and Redis Cluster it is given, never skipped."""

from __future__ import annotations

import os

import pytest

from tests.conftest import migrated_citus_url


@pytest.fixture(scope="session")
def citus_url() -> str:
    """SHOPFEST_TEST_CITUS_URL, upgraded and distributed once; the run fails without it."""
    given = os.environ.get("SHOPFEST_TEST_CITUS_URL")
    if not given:
        pytest.fail("tests/cluster needs SHOPFEST_TEST_CITUS_URL (see ../shared/dist/README.md)")
    return migrated_citus_url(given)
