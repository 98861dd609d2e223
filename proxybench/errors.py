"""The package's one base error: every failure the user can fix (a bad name, a malformed
string, a missing or corrupt file, a table from another run) raises a subclass of
``ProxybenchError`` whose message names the problem and the fix, so the CLI turns any of
them into one line and a Python user catches them all with one ``except``."""

from __future__ import annotations

import errno


class ProxybenchError(ValueError):
    """A failure the user can fix; the message says what is wrong and what to do. The
    message is one line: line breaks in it (a library's paragraph, a user's text quoted)
    become spaces."""

    def __init__(self, message: object = "", *args: object) -> None:
        text = str(message)
        super().__init__(" ".join(text.split()) if "\n" in text or "\r" in text else text,
                         *args)


def is_file(path: object) -> bool:
    """Whether ``path`` names a file; False (not an error) for text that cannot be a path
    on this system (too long, a NUL byte): user text is tried as a file name first."""
    import os
    try:
        return os.path.isfile(path)         # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        return False


# errnos that mean "this path cannot be written or read here": the user's to fix
_PATH_ERRNOS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.EEXIST: "a file of that name is in the way of a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOENT: "no such file or folder",
}


def path_error_line(exc: OSError) -> str | None:
    """One line for a file-system error on a path the user chose (an unwritable --out, a
    file where a folder should be), or None for an OSError that is not about a path."""
    if isinstance(exc, ConnectionError | TimeoutError | InterruptedError):
        return None
    if exc.errno is None:  # pandas and our own code raise bare OSErrors about paths
        text = str(exc)
        return text if "; " in text else f"{text}; check the path" if text else None
    reason = _PATH_ERRNOS.get(exc.errno)
    if reason is None:
        return None
    path = exc.filename if exc.filename is not None else "the output"
    if exc.errno == errno.ENOENT:
        return f"{path} not found ({reason}); check the path"
    return unwritable(path, exc)


def unwritable(path: object, exc: OSError) -> str:
    """'cannot write PATH: why; what to do' for an output that the file system refuses."""
    reason = _PATH_ERRNOS.get(exc.errno) or exc.strerror or str(exc)
    return f"cannot write {path}: {reason}; choose another --out or fix the folder"


class ScoreError(ProxybenchError):
    """A score table cannot be made, read or continued; the message says why and what to
    do. (Here, not in the engine, so table readers need not load torch.)"""


class OptionError(ProxybenchError):
    """An option or argument of a wrong type or out of its range (``proxybench.checks``)."""


def one_line(text: object, limit: int = 400) -> str:
    """A message as one line: a library's multi-line explanation (torch's weights_only
    paragraph, a parser's context) is joined into one line, and a long one keeps its start
    and its end (where the fix is)."""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    return line[:limit - 140] + " ... " + line[-135:]
