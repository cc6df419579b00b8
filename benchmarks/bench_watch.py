"""Time `symformer verify --watch` from a save to its verdict, and a one-shot `verify` beside it.

One watching process runs on the starter file of `symformer new`; each row edits the file (alternating
a correct and a wrong claim, then back to a state already verified) and measures the wall time until
the new verdict's summary line appears on stdout. The target: a verdict within a second or two for a
small file. A fresh `python -m symformer verify` of the same file is timed for comparison: the watch
saves the start-up of the interpreter and SymPy.

    python benchmarks/bench_watch.py
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RIGHT, WRONG = "sigma[i] * (1 - sigma[i]),", "sigma[i] * (2 - sigma[i]),"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = {**os.environ, "SYMFORMER_CACHE_DIR": str(folder / "cache"), "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "symformer", "new", "bench-starter"], cwd=folder, env=env, check=True,
                       capture_output=True)
        path = folder / "bench_starter.py"
        original = path.read_text()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "symformer", "verify", "--quiet", "--no-cache", str(path)], env=env,
                       capture_output=True)
        one_shot = time.perf_counter() - started

        process = subprocess.Popen([sys.executable, "-m", "symformer", "verify", "--watch", "--quiet", str(path)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()

        def verdict() -> str:
            while True:
                line = lines.get(timeout=120)
                if "passed" in line:
                    return line.strip()

        rows = []
        try:
            verdict()
            edits = [("wrong claim", original.replace(RIGHT, WRONG)), ("fixed again (cached)", original),
                     ("comment added", original + "\n# a note\n"), ("wrong claim, comment", original.replace(RIGHT, WRONG) + "\n# a note\n")]
            for label, text in edits:
                time.sleep(0.5)
                started = time.perf_counter()
                path.write_text(text)
                shown = verdict()
                rows.append((label, time.perf_counter() - started, shown))
        finally:
            process.terminate()
            process.communicate(timeout=30)
    print(f"{'edit':<24} {'save to verdict':>15}  verdict")
    for label, seconds, shown in rows:
        print(f"{label:<24} {seconds:>13.2f} s  {shown}")
    print(f"{'one-shot verify process':<24} {one_shot:>13.2f} s  (fresh interpreter, no cache)")


if __name__ == "__main__":
    main()
