"""The one exception type a user sees as a one-line message instead of a traceback."""

__all__ = ["HarnessError", "RunInterruptedError"]


class HarnessError(Exception):
    """A user mistake or an unusable input: the message says what went wrong and how to fix it.

    The CLI prints it on one line and exits with status 2; anything else is a bug and keeps its
    traceback.
    """


class RunInterruptedError(Exception):
    """The user stopped a run (Ctrl-C, or SIGTERM): what finished is kept; the CLI exits with
    128 + the signal's number (130 for Ctrl-C)."""

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_status = 128 + int(signum)
