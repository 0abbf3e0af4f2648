"""`fpsem sweep SPEC --out DIR` and `fpsem verify FUNC` (both on Dask).

Execution (both commands): in-process by default (one Dask worker thread here),
`--workers N` for a LocalCluster of N processes, `--scheduler tcp://host:8786`
for an existing cluster, `--serial` for a plain loop without Dask. Progress goes
to stderr as a rich bar when it is a terminal; otherwise only the summary prints.
"""
from __future__ import annotations

import contextlib
import json
import time

import click

from fpsem.errors import FpsemError


def _console():
    from rich.console import Console
    c = Console(highlight=False, soft_wrap=True)
    if not c.is_terminal:
        c = Console(highlight=False, soft_wrap=True, width=150)   # files and pipes: no 80-column squeeze
    return c


def _engine(workers, scheduler, serial):
    if serial and (workers is not None or scheduler is not None):
        raise FpsemError("--serial runs without Dask: drop --workers / --scheduler")
    if serial:
        return contextlib.nullcontext(None)
    from .dask_run import client
    return client(workers=workers, scheduler=scheduler)


def _engine_label(c, workers, scheduler):
    if c is None:
        return "serial"
    if scheduler is not None:
        return f"Dask scheduler {scheduler} ({sum(c.nthreads().values())} worker threads)"
    if workers is not None:
        return f"Dask LocalCluster, {workers} worker processes"
    return "Dask in-process (1 worker thread)"


def _engine_options(f):
    f = click.option("--serial", is_flag=True, help="run here without Dask")(f)
    f = click.option("--scheduler", default=None, metavar="ADDR",
                     help="an existing Dask scheduler, e.g. tcp://host:8786")(f)
    f = click.option("--workers", type=int, default=None, metavar="N",
                     help="a local Dask cluster of N worker processes")(f)
    return f


def _g(v, d=3):
    return "-" if v is None else f"{v:.{d}g}"


@click.command("sweep")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False),
              help="results directory (re-running resumes it)")
@_engine_options
@click.option("--no-plot", is_flag=True, help="skip margins.png")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def sweep_cmd(spec_path, out, workers, scheduler, serial, no_plot, as_json):
    """Decision-stability census of a TOML sweep SPEC (see examples/census.toml)."""
    from .sweep import load_spec, run_sweep
    spec = load_spec(spec_path)
    t0 = time.perf_counter()
    with _engine(workers, scheduler, serial) as c:
        engine = _engine_label(c, workers, scheduler)
        s = run_sweep(spec, out, client=c, plot=False if no_plot else None)
    s["wall_s"] = time.perf_counter() - t0
    s["engine"] = engine
    if as_json:
        click.echo(json.dumps(s, indent=1, sort_keys=True))
        return
    from rich.table import Table
    con = _console()
    con.print(f"sweep {spec_path} -> {out}: {s['model']}, {s['inputs']} inputs in {s['chunks']} chunks "
              f"({s['chunks_run']} run, {s['chunks_resumed']} already done), reference {s['reference']}, "
              f"{engine}, {s['wall_s']:.1f} s; spec hash {s['spec_hash']}")
    t = Table(title="decision stability per domain")
    for col in ("domain", "positions", "certified stable", "differs from real top-1",
                "reference certified", "margin min / p10 / median / max"):
        t.add_column(col, justify="left" if col == "domain" else "right")
    for lab, d in s["domains"].items():
        m = d["margin"] or {}
        frac = d["certified_fraction"]
        t.add_row(lab, str(d["positions"]), f"{d['certified']} ({100 * frac:.1f}%)" if frac is not None else "-",
                  str(d["differs_from_real"]), str(d["reference_certified"]),
                  " / ".join(_g(m.get(k)) for k in ("min", "p10", "p50", "max")))
    con.print(t)
    for lab, d in s["domains"].items():
        if d["differs_at"]:
            con.print(f"{lab}: float top-1 differs from the certified real top-1 at (input, position) "
                      + ", ".join(map(str, map(tuple, d["differs_at"][:10]))))
    con.print(f"results: {out}/chunks/*.jsonl, {out}/summary.json"
              + (f", {s['plot']}" if s.get("plot") else ""))


@click.command("verify")
@click.argument("func", metavar="FUNC")
@click.option("--format", "fmt", default="binary32", show_default=True, help="only binary32")
@click.option("--modes", default="all", show_default=True, help="all, or a list of rne,rtz,rup,rdn,rna")
@click.option("--range", "enc_range", default=None, metavar="LO:HI",
              help="encodings LO (inclusive) to HI (exclusive), decimal or 0x hex; default all 2**32")
@click.option("--sample", type=int, default=None, metavar="N", help="N seeded random encodings of the range")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of --sample and the audit")
@click.option("--chunk", type=int, default=1 << 24, show_default=True, help="encodings per task")
@_engine_options
@click.option("--json", "json_out", default=None, help="write the result as JSON to this file ('-': stdout)")
def verify_cmd(func, fmt, modes, enc_range, sample, seed, chunk, workers, scheduler, serial, json_out):
    """Check the emulator's correctly rounded FUNC (exp, exp2, log, tanh, erf, sigmoid,
    sin, cos, rsqrt) over binary32 inputs against a binary64 filter plus MPFR.
    Exit 0: no mismatch; 1: mismatches; 2: usage error."""
    from .verify import parse_modes, parse_range, verify
    if json_out not in (None, "-"):
        from fpsem.io import check_output_path
        check_output_path(json_out, "--json")   # before the run, not after it
    lo, hi = parse_range(enc_range)
    mode_list = parse_modes(modes)
    with _engine(workers, scheduler, serial) as c:
        engine = _engine_label(c, workers, scheduler)
        r = verify(func, mode_list, fmt=fmt, lo=lo, hi=hi, sample=sample, seed=seed, chunk=chunk, client=c)
    d = r.to_dict()
    d["engine"] = engine
    if json_out == "-":
        click.echo(json.dumps(d, indent=1))
    else:
        from rich.table import Table
        con = _console()
        what = f"{sample:,} sampled encodings of" if sample else f"{r.total:,} encodings"
        con.print(f"verify {func} ({fmt}): {what} [0x{lo:08x}, 0x{hi:08x}) in {len(r.modes)} mode(s), "
                  f"{r.chunks} chunks, {engine}")
        t = Table()
        for col in ("mode", "inputs", "decided by MPFR", "mismatches", "filter errors"):
            t.add_column(col, justify="left" if col == "mode" else "right")
        for m in r.modes:
            t.add_row(m, f"{r.total:,}", f"{r.mpfr[m]:,}", str(r.mismatches[m]), str(r.filter_errors[m]))
        con.print(t)
        for m in r.modes:
            for e in r.examples[m][:10]:
                con.print(f"  MISMATCH {m}: x = {e['x']} ({e['x_value']}): got {e['got']}, "
                          f"correctly rounded {e['want']}")
            for e in r.filter_examples[m][:5]:
                con.print(f"  filter error {m}: x = {e[0]}: filter {e[1]}, MPFR {e[2]}")
        con.print(f"{'PASS' if r.ok else 'FAIL'}: {r.total * len(r.modes):,} checks in {r.wall_s:.1f} s wall "
                  f"({r.rate / 1e6:.2f} M checks/s; {r.cpu_s:.1f} s in tasks; "
                  f"{r.audited:,} filter-decided lanes audited by MPFR)")
        if json_out:
            from fpsem.io import write_json
            write_json(json_out, d)
    if not r.ok:
        raise click.exceptions.Exit(1)
