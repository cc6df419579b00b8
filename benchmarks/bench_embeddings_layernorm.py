"""The embedding and LayerNorm NumPy references beside the alternatives they are checked against, timed in one run.

Run ``python benchmarks/bench_embeddings_layernorm.py [--repeats 5]``. Rows:

- embedding gradient: symformer's scatter-add (np.add.at) against the dense one-hot product X^T G
  that the derivation writes, and against torch's embedding backward when torch is installed;
- LayerNorm backward: symformer's closed form against torch autograd (float64, CPU);
- masking: mlm_mask with the per-token Bernoulli choice against the original fixed count.

Each row reports the best of ``--repeats`` runs and the ratio to the first entry of its group.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symformer.reference import embedding_backward, layer_norm_backward, mlm_mask, one_hot  # noqa: E402


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []

    vocab, dim, tokens = 8192, 128, 2048
    ids = rng.integers(0, vocab, tokens)
    g = rng.standard_normal((tokens, dim))
    group = [("embedding gradient", f"scatter-add (np.add.at), V={vocab} D={dim} T={tokens}",
              best_of(args.repeats, lambda: embedding_backward(ids, g, vocab)))]
    X = one_hot(ids, vocab)
    group.append(("embedding gradient", "dense one-hot X^T G", best_of(args.repeats, lambda: X.T @ g)))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        weight = torch.zeros((vocab, dim), dtype=torch.float64, requires_grad=True)
        tids, tg = torch.tensor(ids), torch.tensor(g)

        def torch_embedding():
            weight.grad = None
            torch.nn.functional.embedding(tids, weight).backward(tg)

        group.append(("embedding gradient", "torch embedding backward", best_of(args.repeats, torch_embedding)))
    rows.append(group)

    x, dy, gamma = rng.standard_normal((4096, 768)), rng.standard_normal((4096, 768)), rng.standard_normal(768)
    group = [("LayerNorm backward", "symformer closed form, 4096 x 768 float64",
              best_of(args.repeats, lambda: layer_norm_backward(x, dy, gamma, eps=1e-5)))]
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        tgamma, tdy = torch.tensor(gamma, requires_grad=True), torch.tensor(dy)

        def torch_layer_norm():
            tx.grad = tgamma.grad = None
            torch.nn.functional.layer_norm(tx, (768,), tgamma, None, eps=1e-5).backward(tdy)

        group.append(("LayerNorm backward", "torch autograd (forward + backward)", best_of(args.repeats, torch_layer_norm)))
    rows.append(group)

    batch = rng.integers(1000, 30522, (256, 512))
    rows.append([
        ("masking", f"mlm_mask bernoulli, {batch.shape[0]} x {batch.shape[1]}",
         best_of(args.repeats, lambda: mlm_mask(batch, rng, vocab_size=30522, mask_id=103))),
        ("masking", "mlm_mask fixed-count",
         best_of(args.repeats, lambda: mlm_mask(batch, rng, vocab_size=30522, mask_id=103, convention="fixed-count"))),
    ])

    print(f"{'operation':20s} {'implementation':52s} {'best ms':>9s} {'ratio':>7s}")
    for group in rows:
        base = group[0][2]
        for operation, implementation, seconds in group:
            print(f"{operation:20s} {implementation:52s} {seconds * 1e3:9.2f} {seconds / base:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
