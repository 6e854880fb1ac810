"""The command reference (docs/commands.md), made from the commands' own --help.

    python -m pipeline.cli.reference > docs/commands.md

A test compares the file with this output, so the docs cannot drift from the commands. It is in
English, the developers' language: run as a module, it sets the language before the commands (and
their help) are made; the tests read English anyway (tests/conftest.py).
"""

from __future__ import annotations

import click

from pipeline.domain import i18n

if __name__ == "__main__":
    i18n.set_language("en")

from pipeline.cli.base import main

WIDTH = 100  # the width --help is laid out in, whatever the terminal


def help_text(*path: str) -> str:
    """``newsletter PATH... --help`` as the command prints it at WIDTH columns."""
    ctx = main.make_context("newsletter", [], resilient_parsing=True, terminal_width=WIDTH)
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        sub = command.get_command(ctx, name)
        assert sub is not None, name
        ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        command = sub
    return command.get_help(ctx)


def reference() -> str:
    ctx = main.make_context("newsletter", [], resilient_parsing=True, terminal_width=WIDTH)
    out = [
        "# Command reference",
        "",
        "Every command's `--help`, as it prints it. Made by `python -m pipeline.cli.reference >"
        " docs/commands.md`; a test fails when this file and the commands differ.",
        "",
        "## newsletter",
        "",
        "```text",
        help_text().rstrip(),
        "```",
    ]
    for name in main.list_commands(ctx):
        out += ["", f"## newsletter {name}", "", "```text", help_text(name).rstrip(), "```"]
        group = main.get_command(ctx, name)
        if isinstance(group, click.Group):  # e.g. 'monitor': each of its commands too
            for sub in group.list_commands(ctx):
                text = help_text(name, sub).rstrip()
                out += ["", f"## newsletter {name} {sub}", "", "```text", text, "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    click.echo(reference(), nl=False)
