"""Positional encodings: the NumPy references beside PyTorch (float64, CPU) in one run, and the verify time
of the positional derivations.

The references are oracles, not fast kernels; the table shows what a cross-check at realistic sizes
costs next to the formula models run. Ratios are NumPy time / PyTorch time, measured side by side.

    python benchmarks/bench_positional.py
"""

from __future__ import annotations

import time

import numpy as np

from symformer.reference import rope, sinusoidal_encoding


def best_of(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def torch_rope_rotate_half(torch, x, positions):
    d = x.shape[-1]
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.outer(positions, theta)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    return x * cos + torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1) * sin


def torch_sinusoidal(torch, n, d):
    positions = torch.arange(n, dtype=torch.float64)[:, None]
    angles = positions * 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    out = torch.empty(n, d, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = angles.sin(), angles.cos()
    return out


def main() -> None:
    import torch

    torch.set_num_threads(1)
    rows = []
    for batch, n, d in [(1, 512, 64), (8, 2048, 128), (4, 8192, 128)]:
        x = np.random.default_rng(0).standard_normal((batch, n, d))
        positions = np.arange(n, dtype=np.float64)
        xt, pt = torch.from_numpy(x), torch.from_numpy(positions)
        mine = best_of(lambda: rope(x, positions, layout="rotate-half"))
        theirs = best_of(lambda: torch_rope_rotate_half(torch, xt, pt))
        assert np.allclose(rope(x, positions, layout="rotate-half"), torch_rope_rotate_half(torch, xt, pt).numpy(), atol=1e-10)
        rows.append((f"rope rotate-half {batch}x{n}x{d}", mine, theirs))
    for n, d in [(512, 512), (8192, 1024)]:
        mine = best_of(lambda: sinusoidal_encoding(n, d))
        theirs = best_of(lambda: torch_sinusoidal(torch, n, d))
        assert np.allclose(sinusoidal_encoding(n, d), torch_sinusoidal(torch, n, d).numpy(), atol=1e-10)
        rows.append((f"sinusoidal {n}x{d}", mine, theirs))

    print(f"{'operation':34s} {'NumPy ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, mine, theirs in rows:
        print(f"{name:34s} {mine * 1e3:10.2f} {theirs * 1e3:10.2f} {mine / theirs:7.2f}")

    from symformer import verify
    from symformer.engine.catalog import builtin_folder, load_file

    print(f"\n{'derivation':34s} {'verify s':>10s}")
    total = 0.0
    for name in ("positional.py", "rope.py"):
        derivations, error = load_file(builtin_folder() / name)
        if error is not None:
            raise SystemExit(str(error))
        for derivation in derivations:
            started = time.perf_counter()
            ok = verify(derivation).ok
            seconds = time.perf_counter() - started
            total += seconds
            print(f"{derivation.slug:34s} {seconds:10.2f}{'' if ok else '  FAILED'}")
    print(f"{'total':34s} {total:10.2f}")


if __name__ == "__main__":
    main()
