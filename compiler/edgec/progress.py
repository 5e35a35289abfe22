"""Progress on stderr: numbered stage lines, and a bar for long steps (a plain line when not a TTY)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, n_stages: int, quiet: bool = False, stream=None):
        self.n_stages, self.quiet = n_stages, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.stage_no, self.t_stage, self.t0 = 0, 0.0, time.monotonic()
        self._last_bar = 0.0

    def _write(self, s: str) -> None:
        if not self.quiet:
            self.stream.write(s)
            self.stream.flush()

    def stage(self, name: str) -> None:
        """Start the next stage (ends the previous one)."""
        self.end_stage()
        self.stage_no += 1
        self.t_stage = time.monotonic()
        self.name = name
        self._write(f"[{self.stage_no}/{self.n_stages}] {name} ...")
        self._open = True

    def bar(self, done: float, total: float, unit: str = "") -> None:
        """Redraw the current stage's progress bar (rate-limited)."""
        if not self.tty or self.quiet or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last_bar < 0.1:
            return
        self._last_bar = now
        frac = min(1.0, done / total)
        filled = int(frac * 30)
        self._write(f"\r[{self.stage_no}/{self.n_stages}] {self.name} [{'#' * filled}{'.' * (30 - filled)}] "
                    f"{frac * 100:5.1f}% {unit}")

    def end_stage(self, note: str = "") -> None:
        if getattr(self, "_open", False):
            dt = time.monotonic() - self.t_stage
            prefix = f"\r[{self.stage_no}/{self.n_stages}] {self.name}" if self.tty else ""
            self._write(f"{prefix} done ({dt:.1f}s){' ' + note if note else ''}\033[K\n" if self.tty
                        else f" done ({dt:.1f}s){' ' + note if note else ''}\n")
            self._open = False

    def fail(self) -> None:
        """Close an open stage line so an error message that follows stands on its own line."""
        if getattr(self, "_open", False):
            self._write(" failed\n")
            self._open = False

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def say(self, line: str = "") -> None:
        self._write(line + "\n")
