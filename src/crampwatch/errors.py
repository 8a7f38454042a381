"""The one exception type for problems a user can fix (bad file, bad config, ...).

The CLI prints its message as a single line and exits non-zero, without a traceback.
Library code raises it; it never prints.
"""

__all__ = ["CrampwatchError"]


class CrampwatchError(Exception):
    """A user-facing problem, described in one line (name the file, key or value)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\n", " ").strip())
