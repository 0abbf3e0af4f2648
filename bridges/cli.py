"""`fpsem audit` and `fpsem envelope` (loaded lazily by fpsem.cli).

Exit status: 0 clean, 1 on any finding, 2 on a usage error (FpsemError,
mapped by fpsem.cli.main).
"""
from __future__ import annotations

import sys

import click
from rich.markup import escape  # notes and names are text, not markup ("pip install 'fpsem[cuda]'")

from fpsem.console import check_json_out, json_option, make_console
from fpsem.errors import FpsemError


def _split(s):
    """Comma-separated domain specs, options included: 'ieee32:rounding=rtz,ftz=true,float32'
    is two domains, spelled as in `fpsem run -d` (fpsem.registry.split_domain_specs)."""
    from fpsem.registry import split_domain_specs
    return split_domain_specs(s or "") or None


def _status(text, quiet=False):
    """A spinner on stderr while a long step runs (a cold audit is a minute of
    silence otherwise); nothing when stderr is not a terminal."""
    import contextlib
    err = make_console(stderr=True)
    if quiet or not err.is_terminal:
        return contextlib.nullcontext(None)
    return err.status(text)


def _names(s, option):
    """The comma-separated names of an option; given but empty is an error, not the default."""
    if s is not None and _split(s) is None:
        raise FpsemError(f"{option} names nothing (give a comma-separated list, or leave the option out)")
    return _split(s)


@click.command("audit")
@click.option("--suite", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: one fixed-seed case per op, edge cases, tiny models; full: more seeds, orders and sizes")
@click.option("--domains", default=None, help="comma-separated domains to audit (default: every available one)")
@json_option("json_out", "the full report")
@click.option("--junit", "junit_out", type=click.Path(dir_okay=False), default=None,
              help="write JUnit XML (one testcase per check)")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None,
              help="compare the bit hashes of every audited output with this baseline")
@click.option("--update-baseline", "update", type=click.Path(dir_okay=False), default=None, is_flag=False,
              flag_value="", help="write the hashes of this run as a baseline (to FILE, or to --baseline), its values to FILE.values.npz")
@click.option("--no-models", is_flag=True, help="skip the zoo models")
@click.option("-q", "--quiet", is_flag=True, help="print only the summary line and the findings")
@click.pass_context
def audit_cmd(ctx, suite, domains, json_out, junit_out, baseline, update, no_models, quiet):
    """Differential float audit: bit agreement where promised, declared bounds,
    interval soundness, and bit drift against a baseline."""

    from .audit import load_baseline, run_audit, write_baseline

    from fpsem.io import check_output_path

    # one --json convention across commands: '-' is stdout, and then only JSON goes there
    con = make_console(stderr=json_out == "-")
    target = None
    if update is not None:
        target = update or baseline
        if not target:
            raise FpsemError("--update-baseline needs a file (or --baseline FILE)")
    # validate every output path before the run, not after it
    check_json_out(json_out)
    check_output_path(junit_out, "--junit")
    check_output_path(target, "--update-baseline")
    base = load_baseline(baseline) if baseline and update is None else None
    names = _names(domains, "--domains")
    with _status("auditing", quiet) as st:
        tick = (lambda m: st.update(f"auditing: {escape(m)}")) if st is not None else None
        res = run_audit(suite=suite, domains=names, baseline=base, models=not no_models, progress=tick,
                        keep_values=bool(target or base is not None))
    if base is not None:
        from fpsem.io import sha256_file
        res.inputs["baseline_sha256"] = sha256_file(baseline)
    if json_out is not None:
        res.to_json(json_out)
    if junit_out:
        res.to_junit(junit_out)
    if target:
        write_baseline(res, target)
    c = res.counts()
    if not quiet:
        for n in res.notes:
            con.print(f"[dim]note: {escape(n)}[/]")
    for f in res.findings:
        con.print(f"[red]FINDING[/] {escape(f.name)}: {escape(f.message.splitlines()[0]) if f.message else ''}")
    state = "[green]clean[/]" if res.ok else f"[red]{len(res.findings)} finding(s)[/]"
    con.print(f"fpsem audit --suite {suite}: {len(res.checks)} checks, {c['pass']} passed, {c['fail']} failed, "
              f"{c['skip']} skipped over {', '.join(res.domains)} in {res.seconds:.1f}s: {state}"
              + (f"; baseline written to {target}" if target else ""))
    if not res.ok:
        # sys.exit, not ctx.exit: fpsem.cli.main runs click with standalone_mode=False,
        # where click turns ctx.exit(1) into a return value that main() drops
        sys.exit(1)


@click.command("envelope")
@click.argument("model")
@click.option("--config", default=None, help="zoo config preset (e.g. tiny)")
@click.option("--domain", "domains", default="ieee32", show_default=True,
              help="float domain(s), comma-separated, primary first; options as name:key=value")
@click.option("--reference", default="auto", show_default=True,
              help="auto (exact for rational models, else ball with automatic precision), ball, "
                   "ball:prec=N, interval, exact or a float domain")
@click.option("--acc", default=None, help="accumulation order for every float domain (sequential, pairwise, ...)")
@click.option("--compare", default="auto", show_default=True,
              help="extra float domains for bit comparison (comma-separated), 'auto' or 'none'")
@click.option("--worst", "nworst", type=click.IntRange(0), default=5, show_default=True, help="list the k worst nodes by ulp")
@json_option("json_out", "the envelope")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False), default=None, help="write a PNG of error per node")
@click.option("--no-apriori", is_flag=True, help="skip the a-priori dot bounds (faster)")
def envelope_cmd(model, config, domains, reference, acc, compare, nworst, json_out, plot_out, no_apriori):
    """Error envelope of MODEL (a zoo name) node by node against a reference."""

    from fpsem.io import check_output_path

    from .envelope import run_domains

    check_json_out(json_out)
    check_output_path(plot_out, "--plot")
    if nworst < 0:
        raise FpsemError(f"--worst must be >= 0, got {nworst}")
    cmp = "auto" if compare == "auto" else ([] if compare in ("none", "") else _split(compare))
    names = _names(domains, "--domain")
    with _status(f"envelope of {escape(model)}") as st:
        steps = [0]

        def tick(label=""):
            steps[0] += 1
            st.update(f"envelope of {escape(model)}: {steps[0]} steps" + (f" ({escape(label)})" if label else ""))
        env = run_domains(model, None, names, reference, config=config, acc=acc, compare=cmp,
                          apriori=not no_apriori, progress=tick if st is not None else None)
    con = make_console(stderr=json_out == "-")
    con.print(env.table())
    print_summary(env, con, nworst)
    if json_out == "-":
        click.echo(env.to_json())
    elif json_out is not None:
        env.to_json(json_out)
        con.print(f"envelope written to {escape(json_out)}")
    if plot_out:
        env.plot(plot_out)
        con.print(f"plot written to {escape(plot_out)}")


def print_summary(env, console=None, nworst=3):
    """The envelope summary that `fpsem run` and `fpsem envelope` print."""
    if console is None:
        console = make_console()
    console.print(escape(env.summary()))
    if nworst:
        ws = env.worst(nworst, by="ulp")
        if ws:
            console.print(escape("worst nodes by ulp: " + ", ".join(f"{s.name} ({s.max_ulp:.3g})" for s in ws)))
    for n in env.notes:
        console.print(f"[dim]note: {escape(n)}[/]")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(audit_cmd())
