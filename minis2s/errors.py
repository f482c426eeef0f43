"""Errors that are the user's to fix. The command line prints their message as one line
(what is wrong, what to do) and exits with status 2, never a traceback."""


class UserError(Exception):
    """Bad input from the user: a path, a file, a flag combination."""


class DataError(UserError):
    """A data file or directory is missing, malformed or inconsistent."""


class CheckpointError(UserError):
    """A checkpoint directory is missing, partial or not a minis2s checkpoint."""
