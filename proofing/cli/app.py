"""The root typer application and the output helpers every command shares."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

app = typer.Typer(
    name="proofing",
    help="Remote identity proofing: MRZ, chip, liveness, face match, decision, review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def print_json(payload: Any) -> None:
    """Print one JSON document on stdout (the stable machine interface of every command)."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error for a person on stderr and return the exit to raise."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)
