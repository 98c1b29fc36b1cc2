"""``rdg config show``: print the resolved settings, secrets masked."""

from __future__ import annotations

import json

import click

from rdg.cli import settings_from


@click.group("config")
def config() -> None:
    """Inspect settings (flags > RDG_* env vars > rdg.yaml > defaults)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print every setting with its resolved value; passwords show as ***.

    \b
    Example:
      RDG_NATS_URL=nats://10.0.0.5:4222 rdg config show
    """
    values = settings_from(ctx).masked()
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
        return
    width = max(len(k) for k in values)
    for key in sorted(values):
        click.echo(f"{key.ljust(width)}  {values[key]}")
