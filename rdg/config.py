"""One settings object that every command reads.

Sources, highest first: ``--set KEY=VALUE`` flags, ``RDG_*`` environment variables, an
optional ``rdg.yaml`` (or ``--config FILE``, with named ``profiles``), then the embedded
defaults below. Unknown keys are errors with a did-you-mean.

>>> s = load_settings(env={"RDG_NATS_URL": "nats://127.0.0.1:4333"}, config_file=None)
>>> s.nats_url
'nats://127.0.0.1:4333'
>>> s.gremlin_url  # the embedded default needs no server
'embedded'
>>> load_settings(env={}, overrides=["gremlin_password=s3cret"]).masked()["gremlin_password"]
'***'
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from rdg.errors import ConfigError
from rdg.redact import is_secret_key, redact

__all__ = ["Settings", "load_settings", "DEFAULT_STATE_DIR"]

DEFAULT_STATE_DIR = Path(os.path.expanduser("~/.local/state/rdg"))


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Every field is also ``RDG_<FIELD>`` in the environment."""

    nats_url: str = "nats://127.0.0.1:4222"
    """NATS server URL (JetStream enabled). Default ``nats://127.0.0.1:4222``."""
    nats_user: str | None = None
    """NATS user name, if the server asks for one."""
    nats_password: str | None = None
    """NATS password (masked in ``rdg config show``)."""
    nats_token: str | None = None
    """NATS authentication token, if the server uses one (masked)."""
    nats_creds_file: str | None = None
    """A NATS ``.creds`` file (user JWT and nkey seed), for servers in operator mode."""
    nats_nkey_seed_file: str | None = None
    """A file holding a NATS user nkey seed (``SU...``), for servers that list nkeys."""
    nats_tls_ca_file: str | None = None
    """CA bundle that signed the NATS server's certificate (turns TLS on)."""
    nats_tls_cert_file: str | None = None
    """Client certificate for NATS servers that verify clients (with ``nats_tls_key_file``)."""
    nats_tls_key_file: str | None = None
    """Private key of ``nats_tls_cert_file``."""
    nats_connect_timeout: float = 10.0
    """Seconds to wait for the first NATS connection before giving up with an error. Default 10."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka ``bootstrap.servers``. Default ``127.0.0.1:9092``."""
    kafka_options: dict[str, str] = field(default_factory=dict)
    """Extra librdkafka options passed through as-is (``security.protocol``, ``sasl.*``, ``ssl.*``)."""
    kafka_sasl_password_file: str | None = None
    """A file holding the SASL password (``sasl.password``), so it need not sit in ``kafka_options``."""
    gremlin_url: str = "embedded"
    """``embedded`` (a file graph under ``state_dir``), a file path, or ``ws://host:8182/gremlin``."""
    gremlin_username: str | None = None
    """Gremlin Server user name (basic auth)."""
    gremlin_password: str | None = None
    """Gremlin Server password (masked in ``rdg config show``)."""
    gremlin_password_file: str | None = None
    """A file holding the Gremlin Server password, so it need not be a setting's value."""
    gremlin_ca_file: str | None = None
    """CA bundle for ``wss://`` Gremlin URLs."""
    live_retention: float = 7 * 86400.0
    """Seconds an ended or cancelled live event stays in NATS after it finishes, then the server
    deletes it (needs NATS 2.11+; older servers keep it); 0 keeps every event. Default 7 days."""
    query_timeout: float = 5.0
    """Seconds a ``rdg query`` may run before it is stopped. Default 5 (raise it with ``--timeout``)."""
    query_max_results: int = 10_000
    """Most results a read-only ``rdg query`` may return; more is an error, not a cut. Default 10,000."""
    graph_request_timeout: float = 30.0
    """Seconds one Gremlin request of a pipeline's writer may take; a server that stops answering
    is then noticed and the batch retried. Default 30."""
    gremlin_pool_size: int = 4
    """Connections in the Gremlin pool. Default 4."""
    graph_writes_topic: str = "rdg.graph-writes"
    """Kafka topic through which deployed pipelines hand their writes to the graph writers, each
    write in the partition of the vertex that owns it (graph servers only). One topic per graph:
    two graphs sharing a Kafka need two topics. Default ``rdg.graph-writes``."""
    graph_writes_partitions: int = 8
    """Partitions of ``graph_writes_topic`` when rdg creates it: the most graph writers that can
    share the work. Default 8."""
    workflow_output_limit: int = 1 << 20
    """Most bytes of outputs one shell step may write into ``$RDG_OUTPUTS``. Default 1 MiB."""
    state_dir: str = str(DEFAULT_STATE_DIR)
    """Where rdg keeps its own files: embedded graph, pipeline recovery, pids, logs."""
    stack_dir: str = str(Path(os.path.expanduser("~/.cache/rdg")))
    """Where ``rdg stack`` caches server jars and keeps server data and logs."""
    nats_port: int = 4222
    """Port ``rdg stack up`` gives NATS."""
    nats_server: str | None = None
    """The ``nats-server`` binary ``rdg stack up`` runs. Unset (the default): the stack's own build
    of the current release (built once with Go into ``stack_dir/bin``), else ``nats-server`` on
    ``PATH``."""
    nats_monitor_port: int = 0
    """Port of NATS's HTTP monitor (``/healthz``); 0 (the default) means client port + 4000."""
    kafka_port: int = 9092
    """Port ``rdg stack up`` gives Kafka's broker."""
    kafka_controller_port: int = 0
    """Port of Kafka's KRaft controller; 0 (the default) means broker port + 1."""
    janusgraph_port: int = 8182
    """Port ``rdg stack up`` gives JanusGraph Server."""
    janusgraph_backend: str = "inmemory"
    """JanusGraph storage for ``rdg stack up``: ``inmemory`` (tests) or ``berkeleyje`` (persistent)."""

    def __post_init__(self) -> None:
        if self.janusgraph_backend not in ("inmemory", "berkeleyje"):
            msg = f"janusgraph_backend must be 'inmemory' or 'berkeleyje', not {self.janusgraph_backend!r}"
            raise ConfigError(msg)
        for name in ("nats_port", "kafka_port", "janusgraph_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ConfigError(f"{name} must be a TCP port (1-65535), not {port}")
        if not 0 < self.nats_connect_timeout <= 3600:
            raise ConfigError("nats_connect_timeout must be between 0 and 3600 seconds, "
                              f"not {self.nats_connect_timeout}")
        if self.workflow_output_limit < 1:
            raise ConfigError(f"workflow_output_limit must be at least 1 byte, not {self.workflow_output_limit}")
        for name in ("nats_monitor_port", "kafka_controller_port"):
            port = getattr(self, name)
            if not 0 <= port < 65536:
                raise ConfigError(f"{name} must be a TCP port (1-65535), or 0 to derive it, not {port}")

    @property
    def graph_path(self) -> Path:
        """File of the embedded graph when ``gremlin_url`` is ``embedded``."""
        return Path(self.state_dir) / "graph.sqlite"

    def kafka_config(self, **extra: str) -> dict[str, str]:
        """The librdkafka config: bootstrap servers, passthrough options, then ``extra``.

        >>> Settings(kafka_options={"security.protocol": "SSL"}).kafka_config()["security.protocol"]
        'SSL'
        """
        config = {"bootstrap.servers": self.kafka_bootstrap, **self.kafka_options, **extra}
        if self.kafka_sasl_password_file:
            config["sasl.password"] = _read_secret("kafka_sasl_password_file", self.kafka_sasl_password_file)
        return config

    @property
    def gremlin_secret(self) -> str | None:
        """The Gremlin Server password: ``gremlin_password``, else the content of ``gremlin_password_file``."""
        if self.gremlin_password or not self.gremlin_password_file:
            return self.gremlin_password
        return _read_secret("gremlin_password_file", self.gremlin_password_file)

    def as_dict(self) -> dict[str, Any]:
        """All settings as a plain dict."""
        return dataclasses.asdict(self)

    def masked(self) -> dict[str, Any]:
        """Like :meth:`as_dict`, with secrets replaced by ``***``: passwords, tokens, seeds, ``*.pem``,
        ``sasl.*config`` options and credentials inside URLs.

        >>> s = Settings(nats_url="nats://u:pw@h:4222", kafka_options={"ssl.key.pem": "-----BEGIN", "acks": "all"})
        >>> m = s.masked()
        >>> m["nats_url"], m["kafka_options"]
        ('nats://u:***@h:4222', {'ssl.key.pem': '***', 'acks': 'all'})
        """
        out = self.as_dict()
        for key, value in out.items():
            if value and is_secret_key(key) and not key.endswith("_file"):
                out[key] = "***"
            elif isinstance(value, str):
                out[key] = redact(value)
        out["kafka_options"] = {k: ("***" if is_secret_key(k) else redact(v)) for k, v in self.kafka_options.items()}
        return out


def _read_secret(setting: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{setting}: cannot read {path}: {err.strerror}", hint="point it at a readable file") from err


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, _FIELDS, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _coerce(key: str, value: Any, source: str) -> Any:
    kind = _FIELDS[key].type
    if key == "kafka_options":
        if isinstance(value, str):  # "k=v,k2=v2" from env or --set
            pairs = [p for p in value.split(",") if p.strip()]
            try:
                return dict(p.split("=", 1) for p in pairs)
            except ValueError as err:
                raise ConfigError(f"{source}: kafka_options must look like 'key=value,key2=value2'") from err
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: kafka_options must be a mapping of librdkafka options")
        return {str(k): str(v) for k, v in value.items()}
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{source}: {key} must be a whole number, not {value!r}") from err
    if kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{source}: {key} must be a number, not {value!r}") from err
    return None if value is None else str(value)


def _check_key(key: str, source: str) -> None:
    if key not in _FIELDS:
        raise ConfigError(f"{source}: unknown setting '{key}'{_did_you_mean(key)}",
                          hint="`rdg config show` lists every setting")


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings from flags, environment, file and defaults (in that order of priority).

    Args:
        config_file: A YAML settings file; ``None`` means ``$RDG_CONFIG``, else ``./rdg.yaml``
            if it exists.
        profile: A key under ``profiles:`` in that file whose values win over its top level
            (``None``: ``$RDG_PROFILE``, if set).
        overrides: ``KEY=VALUE`` strings from ``--set``.
        env: The environment (default ``os.environ``).

    Raises:
        ConfigError: An unknown key, a value of the wrong type, or a missing file or profile.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    config_file = config_file or env.get("RDG_CONFIG") or None
    profile = profile or env.get("RDG_PROFILE") or None

    path = Path(config_file) if config_file else Path("rdg.yaml")
    if config_file and not path.exists():
        raise ConfigError(f"settings file {path} does not exist")
    if path.exists():
        from rdg.errors import SpecError
        from rdg.spec import plain_yaml  # the one safe YAML reader: no aliases, bounded nesting

        try:
            data = plain_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
        except SpecError as err:
            raise ConfigError(f"settings file {err.message}") from err
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: not valid YAML in UTF-8: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the settings file must be a mapping of setting: value")
        profiles = data.pop("profiles", {}) or {}
        for key, value in data.items():
            _check_key(key, str(path))
            values[key] = _coerce(key, value, str(path))
        if profile:
            if profile not in profiles:
                raise ConfigError(f"{path}: no profile named '{profile}'",
                                  hint=f"profiles here: {', '.join(profiles) or 'none'}")
            for key, value in (profiles[profile] or {}).items():
                _check_key(key, f"{path} profile {profile}")
                values[key] = _coerce(key, value, f"{path} profile {profile}")
    elif profile:
        raise ConfigError(f"profile '{profile}' asked for, but there is no settings file",
                          hint="create rdg.yaml with a 'profiles:' section")

    known_env = {"RDG_" + name.upper(): name for name in _FIELDS}
    for env_key, value in env.items():
        if env_key in known_env:
            values[known_env[env_key]] = _coerce(known_env[env_key], value, env_key)

    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        key = key.strip()
        _check_key(key, "--set")
        values[key] = _coerce(key, value, "--set")

    return Settings(**values)
