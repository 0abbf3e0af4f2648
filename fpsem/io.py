"""Atomic output files and output-path validation.

Every file fpsem writes (audit baselines and reports, --json, --junit,
--save-logits, envelope JSON and PNG, bestiary JSON) goes through `atomic_write`:
the content is written to a temporary file in the target's directory, flushed
and fsynced, then renamed over the target (os.replace, atomic on POSIX). An
interruption at any point (Ctrl-C, SIGKILL, a full disk) leaves the previous file
intact or the new one complete, never a truncated mixture.

`check_output_path` validates a user-named output path BEFORE a long run, so a
typo does not cost the run.
"""
from __future__ import annotations

import json
import os
import tempfile

from . import interrupts
from .errors import FpsemError


class OutputPathError(FpsemError):
    """An output path that cannot be written (named with the option)."""


def check_output_path(path, option="output", suffix=None):
    """Raise OutputPathError unless `path` names a writable file: not empty, not a
    directory, its directory exists and is writable; with `suffix`, it must end
    with it. Returns the path as a str."""
    if path is None:
        return None
    p = os.fspath(path)
    if p == "":
        raise OutputPathError(f"{option}: the output path is empty")
    if isinstance(p, str) and not p.strip():
        # legal on POSIX, but a name of blanks is a quoting mistake, never a wanted file
        raise OutputPathError(f"{option}: the output path {p!r} is only whitespace")
    if p.endswith(os.sep) or os.path.isdir(p):
        raise OutputPathError(f"{option}: {p} is a directory, not a file")
    if suffix and not p.endswith(suffix):
        raise OutputPathError(f"{option}: {p} must end with {suffix}")
    d = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(d):
        raise OutputPathError(f"{option}: directory {d} does not exist")
    if not os.access(d, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option}: directory {d} is not writable")
    if os.path.exists(p) and not os.access(p, os.W_OK):
        raise OutputPathError(f"{option}: {p} is not writable")
    return p


def atomic_write(path, writer, binary=False):
    """Write `path` atomically: writer(fh) fills a temporary file in the same
    directory, which is fsynced and renamed over `path`. The temporary file is
    removed on any error or interrupt (KeyboardInterrupt included)."""
    p = os.fspath(path)
    d = os.path.dirname(os.path.abspath(p))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(p) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # keep the permissions a plain open() would give (mkstemp makes 0600)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if interrupts.received():
            # a Ctrl-C that a library swallowed: do not commit output of an interrupted run
            raise KeyboardInterrupt
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return p


def write_text(path, text):
    return atomic_write(path, lambda fh: fh.write(text))


def write_json(path, data, indent=1, **kw):
    def w(fh):
        json.dump(data, fh, indent=indent, **kw)
        fh.write("\n")
    return atomic_write(path, w)


def write_npy(path, array):
    """np.save to exactly `path` (np.save itself appends .npy to a name without it)."""
    import numpy as np
    return atomic_write(path, lambda fh: np.save(fh, array), binary=True)


# -- JSON outputs ------------------------------------------------------------------------
#: every JSON document fpsem writes starts with these keys (see `json_header`)
HEADER_KEYS = ("schema", "fpsem_version", "inputs")


def json_header(kind, inputs=None, version=1):
    """The keys every fpsem JSON output starts with: `schema` ('fpsem.<kind>/<version>';
    bumped when a field changes meaning), `fpsem_version`, and `inputs` (sha256 of
    the input files and arrays the output depends on; {} when it depends on none)."""
    return {"schema": f"fpsem.{kind}/{version}", "fpsem_version": _version(),
            "inputs": dict(inputs or {})}


def _version():
    # the installed distribution's version (io is ground: it must not import fpsem)
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("fpsem")
    except PackageNotFoundError:
        return "unknown"


def sha256_file(path):
    """sha256 (hex) of a file's bytes."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def arrays_sha256(arrays):
    """sha256 (hex) of the bytes of numeric arrays, in order (the `inputs_sha256`
    of `fpsem run` and `fpsem envelope`); arrays of Python objects (Fractions)
    hash their values' text."""
    import hashlib

    import numpy as np
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        h.update(repr(a.tolist()).encode() if a.dtype == object else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def emit_json(out, data, indent=1):
    """Write JSON `data` to `out`: '-' is stdout, a path is written atomically.
    (The path was validated before the work with `check_output_path`.)"""
    if out == "-":
        import sys
        sys.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return None
    return write_json(out, data, indent=indent, ensure_ascii=False)
