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
