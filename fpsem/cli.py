"""The `fpsem` command line (click + rich).

User errors (unknown names, bad shapes, malformed files, unsupported options)
print one line on stderr and exit with status 2, never a traceback.
"""
from __future__ import annotations

import importlib
import sys

import click

from .console import check_json_out, json_option, make_console
from .errors import FpsemError

# subcommands that live with the code they drive: name -> (module, attribute)
LAZY = {
    "run": ("fpsem.models.cli", "run_cmd"),
    "models": ("fpsem.models.cli", "models_cmd"),
    "audit": ("fpsem.bridges.cli", "audit_cmd"),
    "envelope": ("fpsem.bridges.cli", "envelope_cmd"),
    "bestiary": ("fpsem.models.bestiary.cli", "bestiary_cmd"),
    "sweep": ("fpsem.bridges.sweep_cli", "sweep_cmd"),
    "verify": ("fpsem.bridges.sweep_cli", "verify_cmd"),
}


class _Group(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | {k for k in LAZY if self._lazy(k)})

    def _lazy(self, name):
        mod, attr = LAZY[name]
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ModuleNotFoundError, AttributeError):
            return None

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in LAZY:
            cmd = self._lazy(name)
        return cmd


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fpsem")
def cli():
    """fpsem: what a network really computes in floating point."""


@cli.command("domains")
@json_option("as_json", "the list")
def domains_cmd(as_json):
    """List every domain, its options and whether it is available here."""
    from rich.markup import escape
    from rich.table import Table

    from .registry import DOMAINS, availability, domain_class

    check_json_out(as_json)
    rows = []
    for name, (_, _, desc) in DOMAINS.items():
        ok, why = availability(name)
        opts = {}
        if ok or "not yet available" not in why:
            try:
                opts = {k: str(v) for k, v in domain_class(name).OPTIONS.items()}
            except FpsemError:
                pass
        rows.append({"name": name, "available": ok, "reason": why, "description": desc, "options": opts})
    if as_json:
        from .io import emit_json, json_header
        emit_json(as_json, {**json_header("domains"), "domains": rows})
        return
    t = Table(title="fpsem domains")
    for col in ("domain", "available", "options (defaults)", "what it is"):
        t.add_column(col)
    for r in rows:
        avail = "[green]yes[/]" if r["available"] else f"[red]no[/]: {escape(r['reason'])}"
        t.add_row(r["name"], avail, escape(", ".join(f"{k}={v}" for k, v in r["options"].items())),
                  escape(r["description"]))
    make_console().print(t)


@cli.command("ops")
@json_option("as_json", "the list")
@click.argument("name", required=False)
def ops_cmd(as_json, name):
    """List every op and the primitives it uses (traced on sample inputs)."""
    from rich.table import Table

    from rich.markup import escape

    from .introspect import op_table

    check_json_out(as_json)
    rows = op_table(name)
    if as_json:
        from .io import emit_json, json_header
        emit_json(as_json, {**json_header("ops"), "ops": rows})
        return
    t = Table(title="fpsem ops")
    for col in ("op", "group", "primitives used", "computes"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["group"], " ".join(r["primitives"]), escape(r["summary"]))
    make_console().print(t)


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """The `fpsem` entry point. Exit status: 0 ok, 1 audit findings, 2 user error,
    130 interrupted. With argv (tests) it raises SystemExit; as the process
    (argv None) it ends the process itself."""
    from .interrupts import install, received
    restore = install()
    if argv is None:
        _tune_malloc()
    code = 1
    try:
        _main(argv)
    except SystemExit as e:
        if isinstance(e.code, str):  # sys.exit("message"): Python prints it; so do we
            click.echo(e.code, err=True)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if received() and code != 130:
            # a Ctrl-C that some library swallowed (a ctypes callback prints and drops it)
            click.echo("fpsem: interrupted", err=True)
            code = 130
        if argv is not None:
            raise SystemExit(code) from None
    finally:
        if argv is not None:
            restore()
    # A real process whose work is done. Leave without interpreter finalization:
    # it restores the default SIGINT action, and a late Ctrl-C there would kill the
    # process with -2 instead of the exit code chosen here (outputs are fsynced).
    import os
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _tune_malloc():
    """glibc: serve allocations up to 32 MB from the heap and keep freed memory, as
    MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_/MALLOC_TOP_PAD_ would (unless the
    user set one of those). By default every array over about 128 KB is a fresh
    mmap, and the kernel zeroes its pages again on every use: the GPT-2 small
    envelope spent 9 s of system time there (27.6 s wall instead of 29-31 s on
    2 cores, peak memory 3.3 -> 3.5 GB). The process is the CLI's own, so only
    it is changed; elsewhere (no glibc) nothing happens."""
    import ctypes
    import os
    if sys.platform != "linux" or any(k.startswith("MALLOC_") for k in os.environ):
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 1 << 30)
    mallopt(M_TOP_PAD, 64 << 20)


def _main(argv):
    from .interrupts import is_interrupt
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        if args and not {"--help", "-h", "--version"} & set(args):
            # inside the try: a Ctrl-C while numba imports is an interrupt like any other
            from .jitcache import announce_compilation
            announce_compilation()   # one line on stderr when a cold cache compiles
        rc = cli.main(args=argv, prog_name="fpsem", standalone_mode=False)
    except click.exceptions.Abort:
        # click raises Abort for a KeyboardInterrupt (or EOF) at a prompt
        click.echo("fpsem: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as e:
        # one line: the command and the problem (click's own show() prints usage too)
        ctx = getattr(e, "ctx", None)
        where = ctx.command_path if ctx is not None else "fpsem"
        hint = f" (see '{where} --help')" if isinstance(e, click.UsageError) else ""
        click.echo(f"fpsem: error: {where}: {_one_line(e.format_message())}{hint}", err=True)
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
    except FpsemError as e:
        if is_interrupt(e):
            click.echo("fpsem: interrupted", err=True)
            sys.exit(130)
        click.echo(f"fpsem: error: {_one_line(e)}", err=True)
        sys.exit(2)
    except OSError as e:
        if e.filename is None:
            raise
        # an unreadable input or unwritable output path named by the user
        click.echo(f"fpsem: error: {e.filename}: {e.strerror}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("fpsem: interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        # an interrupt can surface as another exception (numba: SystemError)
        if is_interrupt(e):
            click.echo("fpsem: interrupted", err=True)
            sys.exit(130)
        raise
    # with standalone_mode=False click returns ctx.exit(n) codes instead of exiting
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
