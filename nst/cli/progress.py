"""Progress on stderr that suits where stderr goes.

On a terminal: a tqdm bar, redrawn in place. Anywhere else (a log file, a pipe, CI): a plain line
such as ``nst: 40/200 steps, 12 s, loss 1.2e+05, 64x48 px`` at most once every ``LINE_INTERVAL_S``
seconds and once at the end, so a log gets a few lines instead of a redraw per step. With
``--quiet``: nothing. Notices (a retry, a file that failed) are always written, as whole lines.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

LINE_INTERVAL_S = 5.0


class Progress:
    """Progress over ``total`` units (``unit``: "step", "image" ...), starting at ``initial``."""

    def __init__(self, total: int, *, unit: str = "step", quiet: bool = False, desc: str | None = None,
                 initial: int = 0, stream: TextIO | None = None, interval: float = LINE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.n, self.unit, self.desc, self.info = total, initial, unit, desc, ""
        self.interval, self.clock = interval, clock
        self.started = self.last_line = clock()
        self.shown = (initial, "")   # the position and info of the last line written
        self.bar = None
        isatty = getattr(self.stream, "isatty", None)
        self.mode = "off" if quiet else ("bar" if isatty is not None and isatty() else "lines")
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, file=self.stream)

    def advance(self, count: int = 1, info: str | None = None) -> None:
        """``count`` more units done; ``info`` (loss, size ...) replaces the text after the count."""
        self.move_to(self.n + count, info)

    def move_to(self, n: int, info: str | None = None) -> None:
        """``n`` units done in all."""
        if info is not None:
            self.info = info
        if self.bar is not None:
            self.bar.set_postfix_str(self.info, refresh=False)
            self.bar.update(n - self.bar.n)
        self.n = n
        if self.mode == "lines" and self.clock() - self.last_line >= self.interval:
            self._line()

    def restart(self, total: int) -> None:
        """Start again from 0 over ``total`` units (a run started over lighter)."""
        self.total, self.n = total, 0
        if self.bar is not None:
            self.bar.reset(total=total)

    def write(self, message: str, file: TextIO | None = None) -> None:
        """A whole line (to ``file``, default the progress's stream) that the bar does not break up."""
        file = file if file is not None else self.stream
        if self.bar is not None:
            self.bar.write(message, file=file)
        else:
            print(message, file=file)

    def close(self) -> None:
        """End the bar; in lines mode, write the last position unless that line was just written."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.mode == "lines" and (self.n, self.info) != self.shown:
            self._line()
        self.mode = "off"

    def _line(self) -> None:
        elapsed = self.clock() - self.started
        head = f"{self.desc}: " if self.desc else ""
        units = self.unit if self.total == 1 else self.unit + "s"
        tail = f", {self.info}" if self.info else ""
        print(f"nst: {head}{self.n}/{self.total} {units}, {elapsed:.0f} s{tail}", file=self.stream, flush=True)
        self.last_line, self.shown = self.clock(), (self.n, self.info)
