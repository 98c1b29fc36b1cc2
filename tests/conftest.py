"""Shared fixtures: real servers, started once per test session, from :mod:`rdg.testing`.

``nats_url``, ``kafka_bootstrap`` and ``gremlin_url`` are the plugin's ``rdg_nats_url``,
``rdg_kafka_bootstrap`` and ``rdg_gremlin_url`` under the names this suite grew up with: each
starts only its own server (on free ports, under a temporary folder) the first time a test asks
for it, and stops it at the end. With ``RDG_STACK=running`` they reuse servers already up
(``rdg stack up``) at the URLs in ``RDG_NATS_URL``, ``RDG_KAFKA_BOOTSTRAP`` and
``RDG_GREMLIN_URL`` (or the defaults). A server that cannot start fails the tests that need it;
it never skips them. The plugin also prints each server's version and ready line at the end.
"""

from __future__ import annotations

import pytest

@pytest.fixture(scope="session")
def nats_url(rdg_nats_url: str) -> str:
    """URL of a real NATS server with JetStream."""
    return rdg_nats_url


@pytest.fixture(scope="session")
def kafka_bootstrap(rdg_kafka_bootstrap: str) -> str:
    """``host:port`` of a real Kafka broker (KRaft, one node)."""
    return rdg_kafka_bootstrap


@pytest.fixture(scope="session")
def gremlin_url(rdg_gremlin_url: str) -> str:
    """``ws://host:port/gremlin`` of a real JanusGraph Server (inmemory backend)."""
    return rdg_gremlin_url
