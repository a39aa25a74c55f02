"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class Cpp2PyError(Exception):
    """A user-facing error: bad input, a missing file, a hash mismatch. The message names what and where."""
