"""One exception type for user errors: the CLI prints it as one line and exits non-zero, no traceback."""


class RayqeError(Exception):
    """Bad input or configuration that the user can fix (missing file, bad QP, unreadable video...)."""
