"""The progress display of ``fit``/``evaluate``/``predict``: a live bar (tqdm if installed), or one line per epoch."""
from __future__ import annotations

import sys
import time


def format_logs(logs: dict) -> str:
    """'loss: 0.1234 - accuracy: 0.9650', Keras' spelling."""
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


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
                self._tqdm = tqdm(total=steps, file=self.stream, unit="step", leave=True, dynamic_ncols=True,
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
            filled = int(30 * done / max(self.steps, 1))
            bar = "=" * max(filled - 1, 0) + (">" if done < self.steps else "=") + "." * (30 - filled)
            tail = f" - ETA: {eta:.0f}s" if done < self.steps else f" - {elapsed:.0f}s"
            text = f"\r{done}/{self.steps} [{bar[:30]}]{tail}"
            if logs:
                text += " - " + format_logs(logs)
            self.stream.write(text)
            self.stream.flush()
        self.done = done

    def close(self, logs: dict | None = None) -> None:
        """Finish the bar with the final logs (verbose=2 prints its one line here)."""
        elapsed = time.perf_counter() - self.start
        if self.verbose == 1:
            if self._tqdm is not None:
                if logs:
                    self._tqdm.set_postfix_str(format_logs(logs), refresh=False)
                self._tqdm.close()
            else:
                self.update(self.steps, logs)
                self.stream.write("\n")
        elif self.verbose == 2:
            prefix = f"{self.title} - " if self.title else ""
            print(f"{prefix}{elapsed:.0f}s - {format_logs(logs or {})}", file=self.stream)
        self.stream.flush()
