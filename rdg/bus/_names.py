"""One naming scheme for every NATS object rdg creates, from one namespace.

A namespace keeps deployments (and tests) apart on one NATS server: ``rdg live`` and
``rdg workflow`` both take ``--namespace`` (default ``main``). Subjects always begin with
``rdg.``, so one permission (``rdg.>``) covers every namespace's data subjects.

=========  ==================================  ==============================
object     form                                example (namespace ``main``)
=========  ==================================  ==============================
KV bucket  ``rdg_<ns>_<feature>_<thing>``      ``rdg_main_wf_runs``
stream     ``rdg_<ns>_<feature>_<thing>``      ``rdg_main_live_bcast``
subject    ``rdg.<ns>.<feature>.<parts...>``   ``rdg.main.live.bcast.final``
=========  ==================================  ==============================

>>> ns = Namespace("t1")
>>> ns.bucket("wf", "runs"), ns.stream("live", "bcast"), ns.subject("live", "bcast", "final")
('rdg_t1_wf_runs', 'rdg_t1_live_bcast', 'rdg.t1.live.bcast.final')
>>> Namespace("a.b")
Traceback (most recent call last):
...
rdg.errors.ConfigError: namespace 'a.b' must be 1-32 letters, digits, _ or - (hint: e.g. --namespace staging)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdg.errors import ConfigError

__all__ = ["DEFAULT_NAMESPACE", "Namespace"]

DEFAULT_NAMESPACE = "main"
_VALID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Namespace:
    """The names of one deployment's buckets, streams and subjects."""

    name: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _VALID.match(self.name):
            raise ConfigError(f"namespace {self.name!r} must be 1-32 letters, digits, _ or -",
                              hint="e.g. --namespace staging")

    def bucket(self, feature: str, thing: str) -> str:
        """A KV bucket's name."""
        return f"rdg_{self.name}_{feature}_{thing}"

    def stream(self, feature: str, thing: str) -> str:
        """A stream's name."""
        return f"rdg_{self.name}_{feature}_{thing}"

    def subject(self, feature: str, *parts: str) -> str:
        """A subject (``parts`` may end in a wildcard, ``*`` or ``>``)."""
        return ".".join(("rdg", self.name, feature, *parts))
