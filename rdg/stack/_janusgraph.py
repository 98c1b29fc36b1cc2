"""JanusGraph Server 1.1.x from Maven Central jars, answering GraphBinary on ``/gremlin``.

Backends: ``inmemory`` (fast, emptied on restart: tests) or ``berkeleyje`` (a persistent
graph under the server's ``data`` folder).

>>> [(p.role, p.port) for p in ports(8182)]
[('client', 8182)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from rdg.errors import ConfigError
from rdg.stack._maven import fetch_jars, java_binary, pom_version
from rdg.stack._plan import HOST, Plan, PortSpec, tcp_open, write_conf

__all__ = ["BACKENDS", "NAME", "client_settings", "healthy", "plan", "ports"]

NAME = "janusgraph"
BACKENDS = ("inmemory", "berkeleyje")
HEAP = ["-Xms256m", "-Xmx1g"]
_MAIN = "org.janusgraph.graphdb.server.JanusGraphServer"


def ports(port: int) -> list[PortSpec]:
    """JanusGraph needs one port: the Gremlin WebSocket endpoint."""
    return [PortSpec("client", port, "--janusgraph-port")]


def plan(home: Path, specs: list[PortSpec], *, stack_dir: str, backend: str = "inmemory",
         progress: Callable[[str], None] | None = None, secure: bool = False,
         jvm_options: Sequence[str] = ()) -> Plan:
    """Write the server YAML, graph properties, init script and logging config (``jvm_options``
    go after :data:`HEAP`, so a later ``-Xmx`` wins).

    ``secure``: ``wss://`` with a certificate of the stack's own CA (``home/tls``) and logins
    checked by JanusGraph's simple authenticator, user ``rdg`` with a password made once into
    ``home/secrets/gremlin-password`` (0600); the server YAML holding it is 0600 too.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown JanusGraph backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    java = java_binary()
    lib = fetch_jars(NAME, stack_dir, progress=progress)
    port = {s.role: s.port for s in specs}
    conf = home / "conf"
    props = write_conf(f"janusgraph-{backend}.properties", conf / "graph.properties", data_dir=home / "data")
    init = write_conf("janusgraph-init.groovy", conf / "init.groovy")
    server = write_conf("janusgraph-server.yaml", conf / "janusgraph-server.yaml", host=HOST,
                        port=port["client"], graph_properties=props, init_script=init)
    scheme, extra = "ws", {"version": pom_version(NAME), "backend": backend}
    if secure:
        _secure(home, server)
        scheme, extra["secure"] = "wss", "TLS + password"
    log_conf = write_conf("log4j2-janusgraph.xml", conf / "log4j2.xml")
    (home / "data").mkdir(parents=True, exist_ok=True)
    argv = [java, *HEAP, *jvm_options, "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configurationFile={log_conf}", f"-Dlog4j2.configurationFile={log_conf}",
            "-cp", f"{lib}/*", _MAIN, str(server)]
    return Plan(NAME, argv, f"{scheme}://{HOST}:{port['client']}/gremlin", port, extra=extra)


def _secure(home: Path, server: Path) -> None:
    """Add TLS and authentication to the server YAML (made 0600: it holds the passwords)."""
    import json

    from rdg.stack._tls import secret, server_keystore

    _, keystore, store_password = server_keystore(home)
    # berkeleyje even for an inmemory graph: JanusGraph's authenticator writes the default user,
    # then TinkerPop's reads the credentials graph through a second instance (inmemory would be empty)
    credentials = write_conf("janusgraph-berkeleyje.properties", home / "conf" / "credentials.properties",
                             data_dir=home / "credentials")
    q = json.dumps  # YAML flow scalars in double quotes are JSON strings
    server.chmod(0o600)
    with server.open("a", encoding="utf-8") as out:
        out.write(
            "# Added by `rdg stack up --secure`.\n"
            "authentication: {\n"
            "  authenticator: org.janusgraph.graphdb.tinkerpop.gremlin.server.auth.JanusGraphSimpleAuthenticator,\n"
            "  authenticationHandler: org.apache.tinkerpop.gremlin.server.handler.SaslAuthenticationHandler,\n"
            f"  config: {{defaultUsername: rdg, defaultPassword: {q(secret(home / 'secrets' / 'gremlin-password'))},"
            f" credentialsDb: {q(str(credentials))}}}}}\n"
            f"ssl: {{enabled: true, keyStore: {q(str(keystore))}, keyStorePassword: {q(store_password)},"
            " keyStoreType: PKCS12}\n")


def client_settings(home: Path, url: str) -> dict[str, str]:
    """Settings a client needs for a server started with ``secure`` (the password stays in its file).

    >>> client_settings(Path("/s/janusgraph"), "wss://127.0.0.1:8182/gremlin")["gremlin_ca_file"]
    '/s/janusgraph/tls/ca.pem'
    """
    return {"gremlin_url": url, "gremlin_username": "rdg",
            "gremlin_password_file": str(home / "secrets" / "gremlin-password"),
            "gremlin_ca_file": str(home / "tls" / "ca.pem")}


def healthy(ports_by_role: dict[str, int], url: str, home: Path | None = None) -> bool:
    """True if Gremlin ``1+1`` returns 2 over GraphBinary (``home``: of a server started
    with ``secure``, whose client secrets it uses)."""
    if not tcp_open(ports_by_role["client"]):
        return False
    from gremlin_python.driver.client import Client
    from janusgraph_python.driver.serializer import JanusGraphBinarySerializersV1

    options: dict[str, object] = {}
    if home is not None:
        import ssl

        secured = client_settings(home, url)
        options = {"username": secured["gremlin_username"],
                   "password": Path(secured["gremlin_password_file"]).read_text().strip(),
                   "ssl_options": ssl.create_default_context(cafile=secured["gremlin_ca_file"])}
    client = Client(url, "g", message_serializer=JanusGraphBinarySerializersV1(), pool_size=1, **options)
    try:
        return client.submit("1+1").all().result(timeout=10) == [2]
    finally:
        client.close()
