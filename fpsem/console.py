"""The rich consoles of the CLI.

Rich lays tables out to 80 columns when the output is not a terminal, which cut
numbers in CI logs and pipes; there the width is taken from COLUMNS or is wide."""
from __future__ import annotations

import os

WIDE = 200


def make_console(stderr=False, **kw):
    from rich.console import Console
    kw.setdefault("highlight", False)
    con = Console(stderr=stderr, **kw)
    if "width" not in kw and not con.is_terminal and not os.environ.get("COLUMNS"):
        con = Console(stderr=stderr, width=WIDE, **kw)
    return con


def render_text(renderable, width=None):
    """`renderable` (a rich Table, ...) as plain text: the terminal's width when
    stdout is one, else WIDE; no colour codes."""
    import io
    import shutil
    import sys

    from rich.console import Console
    if width is None:
        width = shutil.get_terminal_size((WIDE, 24)).columns if sys.stdout.isatty() else WIDE
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, highlight=False, soft_wrap=False).print(renderable)
    return buf.getvalue().rstrip("\n")


def text_table(*args, **kw):
    """A rich Table that a plain REPL or print() shows as the table itself
    (rich's own repr is '<rich.table.Table object at ...>')."""
    from rich.table import Table

    class TextTable(Table):
        def __str__(self):
            return render_text(self)

        __repr__ = __str__

    return TextTable(*args, **kw)


def json_option(param="json_out", what="the report"):
    """The one `--json` option of every command: `--json FILE` writes FILE
    atomically (checked before the work starts); `--json -` or a bare `--json`
    writes to stdout, and then only the JSON goes there (tables and notes go to
    stderr)."""
    import click
    return click.option("--json", param, metavar="FILE", is_flag=False, flag_value="-", default=None,
                        help=f"write {what} as JSON to FILE ('-' or no FILE: stdout, then nothing else goes there)")


def check_json_out(path):
    """Validate a --json target before the work: '-' (stdout) or a writable file."""
    if path != "-":
        from .io import check_output_path
        check_output_path(path, "--json")
    return path
