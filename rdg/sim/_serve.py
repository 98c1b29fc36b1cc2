"""The simulator's server processes: ``python -m rdg.sim._serve gateway|api ...``.

A gateway or the prefetch API in a process of its own, served by calling
:func:`rdg.live.ops.run_gateway` / :func:`rdg.live.ops.run_api` directly (the library never
runs its own CLI). The NATS URL comes in the environment as ``RDG_NATS_URL`` (kept off the
command line); the other settings resolve as for ``rdg`` (``RDG_CONFIG``, ``RDG_PROFILE``,
``./rdg.yaml``, ``RDG_*``). Example (what the simulator starts, output to a log file)::

    RDG_NATS_URL=nats://127.0.0.1:4222 python -m rdg.sim._serve gateway --port 8765 --namespace sim1
    RDG_NATS_URL=nats://127.0.0.1:4222 python -m rdg.sim._serve api --port 8080 --namespace sim1 \\
        --graph members.sqlite --max-age 300 --jitter 0.2

>>> _parse(["api", "--port", "8080", "--namespace", "sim1", "--graph", "members.sqlite"]).max_age
300.0
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rdg.sim._serve", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["gateway", "api"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--graph", default=None, help="graph URL or embedded graph file (api only)")
    parser.add_argument("--max-age", dest="max_age", type=float, default=300.0)
    parser.add_argument("--jitter", type=float, default=0.2)
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; 0, or an :class:`RdgError`'s exit code with ``error: ...`` on stderr."""
    import logging

    from rdg.config import load_settings
    from rdg.errors import RdgError
    from rdg.live import ops
    from rdg.redact import install_log_redaction, redact

    args = _parse(argv)
    install_log_redaction()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        settings = load_settings()
        if args.kind == "gateway":
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("rdg.live").addHandler(handler)
            logging.getLogger("rdg.live").setLevel(logging.INFO)
            ops.run_gateway(settings, host=args.host, port=args.port, namespace=args.namespace,
                            ready=lambda url: _say(f"gateway listening on {url}"))
        else:
            _say(f"prefetch API on http://{args.host}:{args.port}/v1/members/MEMBER/live")
            ops.run_api(settings, host=args.host, port=args.port, namespace=args.namespace,
                        max_age_s=args.max_age, jitter=args.jitter, graph_url=args.graph)
    except RdgError as err:
        _say(f"error: {redact(str(err))}")
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
