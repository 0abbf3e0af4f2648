"""`fpsem bestiary [NAME] [--json OUT]`: the catalogue table, or one architecture layer by layer.

Registered lazily by fpsem/cli.py as ("fpsem.models.bestiary.cli", "bestiary_cmd").
Unknown names raise FpsemError (the fpsem CLI turns it into one line and exit status 2).
"""
from __future__ import annotations

from fractions import Fraction

import click

from fpsem.console import check_json_out, json_option

from .report import NO_BOUND, detail, fmt_up, table


def _b(bounds, fmt, order):
    b = bounds[fmt][order]
    return NO_BOUND if b is None else fmt_up(Fraction(b["exact"]), 2)


def _pair(bounds, fmt):
    return f"{_b(bounds, fmt, 'sequential')} / {_b(bounds, fmt, 'pairwise')}"


def _console():
    from rich.console import Console
    con = Console()
    return con if con.is_terminal else Console(width=160)


def _n(x):
    if x is None:
        return "-"
    for unit, scale in (("G", 10 ** 9), ("M", 10 ** 6), ("K", 10 ** 3)):
        if x >= scale:
            return f"{x / scale:.2f}{unit}"
    return str(x)


def _emit(data, out):
    """A versioned JSON document to `out` ('-': stdout, else the file, atomically)."""
    from fpsem.io import emit_json, json_header
    head = json_header("bestiary")
    emit_json("-" if out is None else out,
              {**head, "architectures": data} if isinstance(data, list) else {**head, **data}, indent=2)


def bestiary_command(name: str | None = None, as_json: str | None = None):
    """Print the catalogue (name None) or one entry's per-layer breakdown; with as_json
    ("-" for stdout, else a path) write JSON instead."""
    from rich.table import Table

    if name:
        d = detail(name)  # raises FpsemError for unknown names
        if as_json is not None:
            return _emit(d, as_json)
        con = _console()
        fig = d["compared_with"]
        dev = "" if fig is None else f" ({d['deviation']:+.2%} vs {fig:,} from {d['compared_source']})"
        con.print(f"[bold]{d['name']}[/]: {d['params']:,} parameters{dev}; "
                  f"paper: {d['paper_params_text']}; {_n(d['macs'])} MACs for input {d['input']}"
                  + (f" ({d['input_note']})" if d["input_note"] else ""))
        con.print(f"[dim]{d['citation']}[/]")
        if d["note"]:
            con.print(("[yellow]approximate:[/] " if not d["paper_exact"] else "note: ") + d["note"])
        t = Table(title=f"{d['name']}: per layer, the longest reductions and the a-priori relative "
                        "bound of each (sequential / pairwise)")
        for col in ("#", "layer", "out", "params", "MACs", "dot n", "sum n",
                    "binary32", "bfloat16", "binary16"):
            t.add_column(col, overflow="fold")
        for r in d["layers"]:
            idx = f"{r['tower']}:{r['index']}" if len(d["input"]) > 1 else str(r["index"])
            lab = f"{r['label']}: " if r["label"] else ""
            t.add_row(idx, lab + r["spec"], "x".join(map(str, r["out_shape"])), f"{r['params']:,}",
                      _n(r["macs"]), str(r["dot_len"]), str(r["sum_len"]),
                      *[_pair(r["bounds"], f) for f in ("binary32", "bfloat16", "binary16")])
        con.print(t)
        return None
    rows = table()
    if as_json is not None:
        return _emit(rows, as_json)
    t = Table(title="fpsem bestiary: parameters computed from the specs; the worst layer's "
                    "a-priori relative bound (sequential / pairwise)")
    for col in ("architecture", "params", "paper", "checked vs", "dev", "MACs", "worst layer",
                "dot / sum n", "binary32", "bfloat16", "binary16"):
        t.add_column(col, overflow="fold")
    for r in rows:
        w = r["worst_layer"]
        dev = "-" if r["compared_with"] is None else f"{r['deviation']:+.1%}"
        chk = "-" if r["compared_with"] is None else (
            "paper" if r["compared_source"] == "paper" else _n(r["compared_with"]))
        name = r["name"] + ("" if r["paper_exact"] else " (approx.)")
        where = f"{w['tower']}:" if len(r["input"]) > 1 else ""
        t.add_row(name, f"{r['params']:,}", _n(r["paper_params"]), chk, dev, _n(r["macs"]),
                  f"{where}{w['index']} {w['label'] or w['spec'].split('(')[0]}",
                  f"{w['dot_len']} / {w['sum_len']}",
                  *[_pair(w["bounds"], f) for f in ("binary32", "bfloat16", "binary16")])
    _console().print(t)
    return None


@click.command("bestiary")
@click.argument("name", required=False)
@json_option("as_json", "the catalogue (or NAME's layers)")
def bestiary_cmd(name, as_json):
    """Well-known architectures: parameters, MACs and worst-case reduction bounds.

    Without NAME: the catalogue. With NAME (e.g. ResNet-50, 'GPT-2 small'): per layer."""
    check_json_out(as_json)
    bestiary_command(name, as_json)
