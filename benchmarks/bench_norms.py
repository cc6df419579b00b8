"""LayerNorm and RMSNorm backward passes beside torch CPU autograd, timed in one run.

Run ``python benchmarks/bench_norms.py [--repeats 20] [--rows 4096] [--width 768]``. For each norm:
symformer's NumPy backward (one thread) and torch's forward + backward in float64 (torch uses
every core it is given), best of ``--repeats`` runs each, and their ratio. The inputs are the same
arrays for both, and the results are compared before anything is timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symformer.reference.layernorm import layer_norm_backward  # noqa: E402
from symformer.reference.norms import rms_norm_backward  # noqa: E402


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--width", type=int, default=768)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows, width = args.rows, args.width
    x, dy, weight = rng.standard_normal((rows, width)), rng.standard_normal((rows, width)), rng.standard_normal(width)
    ours = {
        "LayerNorm": lambda: layer_norm_backward(x, dy, weight, eps=1e-5),
        "RMSNorm": lambda: rms_norm_backward(x, dy, weight, eps=1e-6),
    }
    table = []
    for name, work in ours.items():
        seconds = best_of(args.repeats, work)
        torch_seconds = None
        if torch is not None:
            tx, tw, tdy = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True), torch.tensor(dy)
            F = torch.nn.functional
            forward = {"LayerNorm": lambda: F.layer_norm(tx, (width,), tw, None, eps=1e-5),
                       "RMSNorm": lambda: F.rms_norm(tx, (width,), tw, eps=1e-6)}[name]

            def torch_work():
                tx.grad = tw.grad = None
                forward().backward(tdy)

            torch_work()
            dx, dweight = work()[:2]
            if not (np.allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
                    and np.allclose(dweight, tw.grad.numpy(), rtol=1e-9, atol=1e-9)):
                raise SystemExit(f"{name}: symformer and torch disagree; not timing a wrong answer")
            torch_seconds = best_of(args.repeats, torch_work)
        table.append((name, seconds, torch_seconds))

    threads = torch.get_num_threads() if torch is not None else 0
    print(f"backward of a {rows} x {width} float64 batch, best of {args.repeats}; NumPy 1 thread, torch {threads}")
    print(f"{'norm':10s} {'symformer ms':>13s} {'torch fwd+bwd ms':>17s} {'ratio':>7s}")
    for name, seconds, torch_seconds in table:
        theirs = f"{torch_seconds * 1e3:17.2f}" if torch_seconds else f"{'(no torch)':>17s}"
        ratio = f"{seconds / torch_seconds:7.2f}" if torch_seconds else f"{'':>7s}"
        print(f"{name:10s} {seconds * 1e3:13.2f} {theirs} {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
