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


def cli_capsys(capsys, *argv):
    """(exit code, stdout, stderr) of fpsem in-process, read through pytest's capsys
    (for tests that also look at what numba or rich write to the real streams)."""
    import pytest
    with pytest.raises(SystemExit) as e:
        main(list(argv))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err
