"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class Cpp2PyError(Exception):
    """A user-facing error: bad input, a missing file, a hash mismatch. The message names what and where."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a batch job, carrying what was kept, so the command line can say it in one line.

    A ``KeyboardInterrupt`` still, so code that lets Ctrl-C through (and tests of resume) sees no difference.
    """

    def __init__(self, kept: int, output: str):
        super().__init__(f"interrupted: {kept} result{'s' if kept != 1 else ''} kept in {output}; rerun to resume")
        self.kept, self.output = kept, output
