"""The package's one base error: every failure the user can fix (a bad name, a malformed
string, a missing or corrupt file, a table from another run) raises a subclass of
``ProxybenchError`` whose message names the problem and the fix, so the CLI turns any of
them into one line and a Python user catches them all with one ``except``."""


class ProxybenchError(ValueError):
    """A failure the user can fix; the message says what is wrong and what to do."""
