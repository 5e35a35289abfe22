"""The one exception type users see: a one-line message naming the problem and the fix."""


class EdgecError(Exception):
    """A user-facing error; str(e) is one line, printed as `edgec: error: ...` with exit code 1."""
