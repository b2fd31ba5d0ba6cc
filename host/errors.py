"""The one error the command line reports as a plain line (never a traceback)."""


class FacewaveError(Exception):
    """A failure to report in one line; `code` is the exit status (1 failed, 2 usage)."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code
