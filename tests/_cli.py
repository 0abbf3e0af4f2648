"""fpsem's command line in-process, as a user runs it (exit code included)."""
import contextlib
import io

from fpsem.cli import main


def cli(*argv):
    """(exit code, stdout, stderr) of fpsem in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
            code = 0
        except SystemExit as e:
            code = e.code or 0
    return code, out.getvalue(), err.getvalue()
