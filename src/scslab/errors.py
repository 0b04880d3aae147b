"""Errors the user can fix. The CLI prints their message on one line and exits 2."""


class ScslabError(Exception):
    """Bad input: a scenario, an argument or a file the user gave. Exit status 2."""


class ScenarioError(ScslabError):
    """A scenario file or override that does not validate."""


class RunDirError(ScslabError):
    """A run directory that is missing, incomplete or corrupt."""


class ResourceError(ScslabError):
    """A run that would not fit in memory or on disk."""


class Interrupted(ScslabError):
    """Ctrl-C: the CLI prints the message (what was kept, how to go on) and exits 130."""

    exit_code = 130
