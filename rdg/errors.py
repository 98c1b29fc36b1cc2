"""One error tree for rdg: every error a user can act on derives from :class:`RdgError`.

Each class carries the exit code the CLI uses for it, so the front end stays thin.

>>> err = NotFoundError("no pipeline named 'games'", hint="run `rdg validate` to list pipelines")
>>> str(err)
"no pipeline named 'games' (hint: run `rdg validate` to list pipelines)"
>>> err.exit_code
1
>>> isinstance(RdgTimeoutError("slow"), TimeoutError)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from rdg.spec import Lint

__all__ = [
    "ConfigError",
    "ConflictError",
    "DurationError",
    "EnvironmentMissingError",
    "IllegalActionError",
    "NotFoundError",
    "RdgError",
    "RdgTimeoutError",
    "RetryableError",
    "ServerBusyError",
    "ServerError",
    "SpecError",
    "StorageError",
    "UserStepError",
]


class RdgError(Exception):
    """Root of every error rdg raises on purpose.

    Args:
        message: What went wrong, in one sentence.
        hint: How to fix it, if we know.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message

    @property
    def cause(self) -> BaseException | None:
        """The driver error this one wraps, if any (``__cause__``)."""
        return self.__cause__


class ConfigError(RdgError):
    """A setting is unknown, malformed or contradicts another."""

    exit_code = 2


class EnvironmentMissingError(RdgError):
    """A tool rdg needs (Java, Maven, nats-server) is not installed."""

    exit_code = 2


class SpecError(RdgError):
    """A YAML spec has problems; ``lints`` holds every one of them, each with file:line:col."""

    def __init__(self, lints: "Sequence[Lint]", *, message: str | None = None) -> None:
        self.lints = list(lints)
        text = message or "\n".join(str(lint) for lint in self.lints)
        super().__init__(text)


class DurationError(ConfigError, ValueError):
    """Text that is not a duration (``rdg.duration`` has the grammar)."""


class NotFoundError(RdgError):
    """A named thing (pipeline, run, event, vertex) does not exist."""


class ConflictError(RdgError):
    """A compare-and-set lost: someone else changed the state first (revision mismatch)."""


class IllegalActionError(RdgError):
    """An action is not allowed in the current state (e.g. resume a run that is not paused)."""


class ServerError(RdgError):
    """A server (JanusGraph, Kafka, NATS) failed or could not be reached."""


class RetryableError(ServerError):
    """A failure that may succeed if tried again (timeouts, dropped connections)."""


class ServerBusyError(RetryableError):
    """The server answered, but could not do it this time (a lock timeout, a transient storage
    error): the request itself reached it, unlike a connection that failed."""


class StorageError(ServerError):
    """The graph's storage failed in a way that trying again will not fix (a damaged or
    unreadable file, a full or read-only disk): retried a few times at most, then reported."""


class RdgTimeoutError(RetryableError, TimeoutError):
    """Something took longer than its limit; also catchable as the builtin ``TimeoutError``."""


class UserStepError(RdgError):
    """A workflow step's own code failed; ``non_retryable`` stops further attempts."""

    def __init__(self, message: str, *, hint: str | None = None, non_retryable: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.non_retryable = non_retryable
