"""Progress bars only where a person watches.

A tqdm bar redraws itself with carriage returns: on a terminal that is one line that keeps
updating, but in a file, a pipe or a CI log every redraw stays, and a demo's log grew to
hundreds of kilobytes of bar frames. So a bar is drawn only when stderr (where tqdm writes)
is a terminal or a Jupyter kernel's output stream, unless the caller says otherwise:
`progress=True` forces bars (into a log, if asked for), `progress=False` hides them.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Iterable, Optional, TextIO

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # In a Jupyter kernel without ipywidgets, tqdm.auto warns on import and falls back to text bars,
    # which work: the warning (with a path into site-packages) would head every notebook's outputs.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm


def person_watches(stream: Optional[TextIO] = None) -> bool:
    """Whether `stream` (default: the current `sys.stderr`) is shown to a person as it is written.

    A terminal is; so is a notebook (ipykernel's stream, whose `isatty()` is False but whose
    bars tqdm draws as one widget). Files, pipes, pytest's capture and a missing stderr are not.
    """
    stream = sys.stderr if stream is None else stream
    if stream is None:  # pythonw and some services run without a stderr
        return False
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def show_progress(progress: Optional[bool] = None, stream: Optional[TextIO] = None) -> bool:
    """Whether to draw progress bars: `progress` when it is True or False, else `person_watches(stream)`."""
    return person_watches(stream) if progress is None else bool(progress)


def progress_bar(iterable: Iterable, *, progress: Optional[bool] = None, **options: Any) -> tqdm:
    """`tqdm(iterable, **options)`, disabled unless `show_progress(progress)`.

    A disabled bar still iterates and accepts `set_postfix`; it only draws nothing.
    """
    return tqdm(iterable, disable=not show_progress(progress), **options)
