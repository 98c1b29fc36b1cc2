"""The ``rdg`` command: a thin click front over the packages below.

Each command group lives in its own module (``_stack.py``, ``_graph.py``, ...) and imports
its package lazily inside the command, so ``rdg --help`` stays fast.

Exit codes: 0 ok; 1 a failed result (lints, a failed run, a thing not found); 2 bad usage or
an unexpected error.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from rdg import __version__
from rdg.errors import RdgError
from rdg.redact import install_log_redaction, redact

__all__ = ["main", "cli"]

# name -> (module, attribute, short help). Registered lazily so one broken group cannot
# break the others, and ``--help`` does not import Bytewax or the Gremlin driver.
_GROUPS: dict[str, tuple[str, str, str]] = {
    "config": ("rdg.cli._config", "config", "Show the resolved settings."),
    "stack": ("rdg.cli._stack", "stack", "Start, stop and inspect the local servers."),
    "graph": ("rdg.cli._graph", "graph", "Create and inspect the graph schema."),
    "query": ("rdg.cli._graph", "query", "Run a Gremlin query."),
    "journey": ("rdg.cli._graph", "journey", "A member's path across devices and verticals."),
    "neighbors": ("rdg.cli._graph", "neighbors", "Vertices near one vertex."),
    "path": ("rdg.cli._graph", "path", "The shortest path between two vertices."),
    "validate": ("rdg.cli._pipeline", "validate", "Check pipelines.yaml without running it."),
    "preview": ("rdg.cli._pipeline", "preview", "Show what sample events become."),
    "run": ("rdg.cli._pipeline", "run", "Run a pipeline in the foreground."),
    "demo": ("rdg.cli._pipeline", "demo", "Run the main job on the embedded default."),
    "sample": ("rdg.cli._pipeline", "sample", "Write sample events."),
    "deploy": ("rdg.cli._pipeline", "deploy", "Start pipelines in the background."),
    "status": ("rdg.cli._pipeline", "status", "Show deployed pipelines."),
    "stop": ("rdg.cli._pipeline", "stop", "Stop deployed pipelines."),
    "logs": ("rdg.cli._pipeline", "logs", "Show a deployed pipeline's log."),
    "workflow": ("rdg.cli._workflow", "workflow", "Define and drive workflows."),
    "engine": ("rdg.cli._workflow", "engine", "Run the workflow engine process."),
    "worker": ("rdg.cli._workflow", "worker", "Run a workflow worker process."),
    "live": ("rdg.cli._live", "live", "Schedule and broadcast live events."),
}


class _LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_GROUPS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        if cmd_name not in _GROUPS:
            return None
        module_name, attr, short_help = _GROUPS[cmd_name]
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attr)
        except (ImportError, AttributeError) as err:
            why = str(err)  # `err` is unbound once this block ends; the command runs later

            @click.command(cmd_name, help=f"{short_help} (unavailable: {why})")
            def _broken() -> None:
                raise click.ClickException(f"`rdg {cmd_name}` could not load: {why}")

            _broken.short_help = f"{short_help} [unavailable]"
            return _broken

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _GROUPS[name][2]) for name in sorted(_GROUPS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rdg")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="RDG_CONFIG",
              help="Settings file (default: ./rdg.yaml if present).")
@click.option("--profile", envvar="RDG_PROFILE", default=None,
              help="Named profile inside the settings file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one setting, e.g. --set gremlin_url=ws://host:8182/gremlin.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, profile: str | None, overrides: tuple[str, ...]) -> None:
    """rdg: a real-time distributed graph of member activity.

    \b
    Quick start (no servers needed):
      rdg demo                       run the example pipelines into an embedded graph
      rdg journey m1                 a member's path across devices and verticals
    With the local servers:
      rdg stack up                   start NATS, Kafka and JanusGraph on this machine
      rdg validate pipelines.yaml    check the spec, with file:line:col errors
      rdg deploy                     run the pipelines against Kafka and JanusGraph
    """
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["profile"] = profile
    ctx.obj["overrides"] = overrides


def settings_from(ctx: click.Context) -> Any:
    """Resolve the :class:`rdg.config.Settings` for this invocation (flags > env > file > defaults)."""
    from rdg.config import load_settings

    root = ctx.find_root().obj or {}
    return load_settings(
        config_file=root.get("config_file"),
        profile=root.get("profile"),
        overrides=root.get("overrides", ()),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map :class:`RdgError` to a message and an exit code."""
    install_log_redaction()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # TLS clients: "eof_received() has no effect", ...
    logging.getLogger("gremlinpython").setLevel(logging.CRITICAL)  # it logs each refusal we then report once
    try:
        code = cli.main(args=argv, prog_name="rdg", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.message = redact(err.message)
        err.show()
        sys.exit(err.exit_code)
    except RdgError as err:
        click.secho(f"error: {redact(str(err))}", fg="red", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - last resort: say what broke, exit 2
        click.secho(f"unexpected error: {type(err).__name__}: {redact(str(err))}", fg="red", err=True)
        sys.exit(2)
