"""What every jobs/ script shares: run one of rayqe's CLI commands with the script's own arguments.

Why this shape: options, defaults and validation live once, in rayqe/cli.py; a job script names the command
(and, for some, what to write once it has run), so `python jobs/enhance.py --help` is `rayqe enhance --help`.
Cluster settings come from the environment, as for the CLI: inside a submitted job Ray sets `RAY_ADDRESS`
and the commands connect to that cluster; run by hand without it, they start a local Ray. S3 settings come
from the standard AWS chain (`AWS_ENDPOINT_URL` for S3-compatible stores).

The scripts run by path (`python /home/ray/rayqe/jobs/enhance.py` in the RayJob, `python jobs/x.py` under
`ray job submit`), where `jobs` is no package: they import this module as a sibling, `import jobkit`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import typer
from typer.core import TyperCommand, TyperGroup

from rayqe.cli import app
from rayqe.errors import RayqeError

After = Callable[[dict], None]  # receives the command's parsed parameters (CLI names, as in its signature)
USER_ERROR_EXIT = 2  # as `rayqe` itself: user errors are one line and exit status 2


def cli_command(name: str, *, after: After | None = None, rename: str | None = None) -> TyperCommand:
    """rayqe's CLI command `name`, unchanged, or with `after(params)` run once the command has done its
    work: also when it then exits non-zero on purpose (`typer.Exit`, e.g. some videos failed), never after
    a usage or user error (nothing was done to write about)."""
    command = typer.main.get_command(app).commands.get(name)  # type: ignore[attr-defined]
    if command is None:
        raise LookupError(f"rayqe has no command {name!r}")
    if after is None and rename is None:
        return command
    command = copy.copy(command)
    command.name = rename or command.name
    if after is not None:
        inner = command.callback

        def callback(**params):
            try:
                result = inner(**params)
            except typer.Exit:
                after(params)
                raise
            after(params)
            return result

        command.callback = callback
    return command


def cli_group(help_text: str, commands: Mapping[str, str]) -> TyperGroup:
    """Several CLI commands under one script, as subcommands: {subcommand: rayqe command name}."""
    return TyperGroup(
        help=help_text,
        commands={sub: cli_command(cmd, rename=sub) for sub, cmd in commands.items()},
        no_args_is_help=True,
    )


def run(command: TyperCommand | TyperGroup) -> None:
    """Parse `sys.argv` and run `command`; usage errors and --help as click prints them, RayqeError (and a
    missing file) as one line with exit status 2, like `rayqe`."""
    prog = f"jobs/{Path(sys.argv[0]).name}"
    try:
        command.main(args=sys.argv[1:], prog_name=prog, standalone_mode=True)
    except RayqeError as err:
        typer.secho(f"rayqe: error: {err}", err=True, fg=typer.colors.RED)
        sys.exit(USER_ERROR_EXIT)
    except FileNotFoundError as err:
        typer.secho(f"rayqe: error: file not found: {err.filename or err}", err=True, fg=typer.colors.RED)
        sys.exit(USER_ERROR_EXIT)
