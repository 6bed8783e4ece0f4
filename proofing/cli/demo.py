"""``proofing demo``: show the pipeline working on samples any fresh install can get.

At this stage it reads the MRZ of the shared specimens (when ../shared is present) and of
a specimen data page the project renders itself; later stages add the chip, the face and
the decision.
"""

from __future__ import annotations

import typer

from proofing.cli.app import app


@app.command("demo")
def demo() -> None:
    """Run the stages that exist on built-in and shared samples and print what they find."""
    typer.echo("demo: coming with the MRZ reader")
