"""The one error surface of the project.

Every error a user can fix (a bad config, a damaged input file, a benchmark that cannot load, a
refused upload) is an `OpencoderError` whose message names the file (and line or row) and the
problem. `opencoder.cli` turns it into one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations


class OpencoderError(Exception):
    """A problem in the user's input or setup, stated in one line that names where it is."""


class InputError(OpencoderError, ValueError):
    """An input file or folder a stage cannot use (missing, empty, wrong columns, made for another run)."""
