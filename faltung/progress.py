"""The progress display of ``fit``/``evaluate``/``predict``: a live bar (tqdm if installed), or one line per epoch.

As in Keras, an epoch's title ("Epoch 3/10") has a line of its own, and the closing line carries
every metric, validation ones included, in full: it is never cut to the terminal's width (the
terminal wraps it). Only the live bar, redrawn in place while the epoch runs, is fitted to the width.
"""
from __future__ import annotations

import sys
import time


def format_logs(logs: dict) -> str:
    """'loss: 0.1234 - accuracy: 0.9650', Keras' spelling."""
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


def bar_line(done: int, steps: int, tail: str, logs: dict | None = None) -> str:
    """'7/10 [====================>.........] - ETA: 2s - loss: 0.1234', Keras' bar line."""
    filled = int(30 * done / max(steps, 1))
    bar = "=" * max(filled - 1, 0) + (">" if done < steps else "=") + "." * (30 - filled)
    text = f"{done}/{steps} [{bar[:30]}] - {tail}"
    return text + (" - " + format_logs(logs) if logs else "")


class ProgressBar:
    """Shows ``steps`` steps of work. verbose=1: a live bar with ETA and running logs; 2: only the
    closing line; 0: nothing. Uses tqdm when it is installed (optional extra), else a bar of its own."""

    def __init__(self, steps: int, verbose: int = 1, title: str | None = None, stream=None):
        self.steps, self.verbose, self.title = steps, verbose, title
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.done = 0
        self._tqdm = None
        if verbose == 1:
            if title:
                print(title, file=self.stream)
            try:
                from tqdm import tqdm
                # leave=False: tqdm cuts its line to the terminal's width, metrics and all, so close()
                # clears it and writes the closing line itself
                self._tqdm = tqdm(total=steps, file=self.stream, unit="step", leave=False, dynamic_ncols=True,
                                  bar_format="{n_fmt}/{total_fmt} {bar:30} {elapsed}<{remaining}{postfix}")
            except ImportError:
                pass

    def update(self, done: int, logs: dict | None = None) -> None:
        """``done`` steps finished so far; ``logs`` are the running averages."""
        if self.verbose != 1:
            self.done = done
            return
        if self._tqdm is not None:
            self._tqdm.update(done - self.done)
            if logs:
                self._tqdm.set_postfix_str(format_logs(logs), refresh=False)
        else:
            elapsed = time.perf_counter() - self.start
            eta = elapsed / max(done, 1) * (self.steps - done)
            tail = f"ETA: {eta:.0f}s" if done < self.steps else f"{elapsed:.0f}s"
            self.stream.write("\r" + bar_line(done, self.steps, tail, logs))
            self.stream.flush()
        self.done = done

    def close(self, logs: dict | None = None) -> None:
        """Finish the bar with the final logs (verbose=2 prints its one line here)."""
        elapsed = time.perf_counter() - self.start
        if self.verbose == 1:
            if self._tqdm is not None:
                self._tqdm.close()  # clears the live line (leave=False)
                self.stream.write(bar_line(self.steps, self.steps, f"{elapsed:.0f}s", logs) + "\n")
            else:
                self.update(self.steps, logs)
                self.stream.write("\n")
        elif self.verbose == 2:
            prefix = f"{self.title} - " if self.title else ""
            suffix = f" - {format_logs(logs)}" if logs else ""
            print(f"{prefix}{elapsed:.0f}s{suffix}", file=self.stream)
        self.stream.flush()
