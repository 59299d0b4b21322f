"""Progress bars on a terminal (tqdm): counts, rate and time left on standard error, for work that
takes long enough to wonder about (indexing, `add`, `bench`). Nothing at all when standard error
is not a terminal (a pipe, a log file, systemd) or under `--quiet`.

The core reports progress through a plain callback `(done, total)`, so it knows nothing of this
module; tqdm is imported only when a bar is actually shown."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Never

if TYPE_CHECKING:  # the stubs only: tqdm itself is imported when a bar is drawn
    from tqdm import tqdm

MIN_INTERVAL = 0.2  # seconds between redraws


class ProgressBar:
    """A bar for one job. Call it with (done, total) as work proceeds (it closes itself when done
    reaches total); print lines through `write` so they do not tear the bar; `close` it if the job
    ends early (or use it as a context manager)."""

    def __init__(self, label: str, unit: str, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = shows_progress(self.stream, quiet=quiet)
        self._bar: tqdm[Never] | None = None
        self._label, self._unit = label, unit

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or (self._bar is None and total == 0):  # nothing to do: nothing to show
            return
        if self._bar is None:
            from tqdm import tqdm  # only where a bar is drawn: the bot's start-up does not pay for it

            self._bar = tqdm(total=total, desc=self._label, unit=" " + self._unit, file=self.stream,
                             mininterval=MIN_INTERVAL, dynamic_ncols=True)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            self.close()  # finished: the last state stays on the screen, and later output goes below it

    def write(self, line: str, file: IO[str] | None = None) -> None:
        target = file or sys.stdout
        if self._bar is not None:
            self._bar.write(line, file=target)
        else:
            print(line, file=target, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shows_progress(stream: IO[str] | None = None, *, quiet: bool = False) -> bool:
    """Whether a bar would be drawn: not under --quiet, and only on a terminal."""
    stream = stream or sys.stderr
    try:
        return not quiet and stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
