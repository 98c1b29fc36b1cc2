"""One bounded pipeline run in a process of its own: ``python -m rdg.pipeline._once PIPELINE ...``.

What a workflow's ``pipeline`` step starts: :func:`rdg.pipeline.run_pipeline` over a file (or a
Kafka topic to its end), called directly rather than through the CLI. It takes the options of
``rdg run`` that a bounded run needs (``--spec``, ``--events``, ``--to-end``, ``--dead-letter``),
resolves settings as ``rdg`` does (``RDG_CONFIG``, ``RDG_PROFILE``, ``./rdg.yaml``, ``RDG_*``),
prints the summary as one JSON line and exits 0; on an :class:`RdgError` it
prints ``error: ...`` on stderr and exits with its code (2 for anything unexpected). Example::

    python -m rdg.pipeline._once games --spec pipelines.yaml --events rdg/data/events/games.jsonl

>>> _parse(["games", "--events", "games.jsonl"]).spec
'pipelines.yaml'
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rdg.pipeline._once", description=__doc__.splitlines()[0],
                                     allow_abbrev=False)
    parser.add_argument("pipeline")
    parser.add_argument("--spec", default="pipelines.yaml")
    parser.add_argument("--events", default=None)
    parser.add_argument("--to-end", dest="to_end", action="store_true")
    parser.add_argument("--dead-letter", dest="dead_letter_file", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline to the end of its input; the exit code as ``rdg run`` would give it."""
    import logging

    from rdg.config import load_settings
    from rdg.errors import RdgError
    from rdg.pipeline._run import load_spec, run_pipeline
    from rdg.redact import install_log_redaction, redact
    from rdg.spec import DeadLetterSpec

    args = _parse(argv)
    install_log_redaction()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    logging.getLogger("gremlinpython").setLevel(logging.CRITICAL)
    try:
        settings = load_settings()
        spec = load_spec(args.spec)
        dead = DeadLetterSpec("file", args.dead_letter_file) if args.dead_letter_file else None
        result = run_pipeline(spec, args.pipeline, settings=settings, events=args.events, to_end=args.to_end,
                              dead_letter=dead)
    except RdgError as err:
        print(f"error: {redact(str(err))}", file=sys.stderr, flush=True)
        return err.exit_code
    except Exception as err:  # noqa: BLE001 - as the CLI: say what broke, exit 2
        print(f"unexpected error: {type(err).__name__}: {redact(str(err))}", file=sys.stderr, flush=True)
        return 2
    print(json.dumps(result.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
