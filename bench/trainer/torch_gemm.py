#!/usr/bin/python3
"""Peers of `bench_trainer gemm` for bench/trainer/run.sh: reads its JSON lines on stdin
and prints a table of GFLOP/s on one thread per product, each aios kernel variant beside
PyTorch's torch.mm and numpy's matmul (OpenBLAS) on the same shapes (float32,
row-major, C = A . B), with the share of this run's FMA peak (the highest of the
`peak` lines, which bench_trainer measures before and after)."""
import json
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # before numpy and torch load their BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def best_gflops(fn, flop):
    """Best of 5 passes of enough calls to take ~50 ms each."""
    fn()
    reps = int(1e8 / flop) + 1
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = max(best, flop * reps / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    peak, rows = {}, []
    for line in sys.stdin:
        r = json.loads(line)
        if "peak" in r:
            for k, v in r.items():
                if k != "peak":
                    peak[k] = max(peak.get(k, 0.0), v)
        else:
            rows.append(r)
    variants = [k for k in rows[0] if k.endswith("_gflops")] if rows else []
    print("FMA peak this run, one core: " +
          ", ".join(f"{k[:-7]} {v:.1f} GFLOP/s" for k, v in peak.items()))
    head = f"{'model':<19} {'product':<8} {'rows x k x n':<14}"
    for v in variants:
        head += f" {v[:-7]:>9}"
    head += f" {'torch':>7} {'numpy':>7} | {'avx512/peak':>11} {'avx512/torch':>12}"
    print(head)
    g = torch.Generator().manual_seed(0)
    for r in rows:
        m, k, n = r["rows"], r["k"], r["n"]
        flop = 2.0 * m * k * n
        a, b = torch.rand(m, k, generator=g), torch.rand(k, n, generator=g)
        c = torch.empty(m, n)
        tg = best_gflops(lambda: torch.mm(a, b, out=c), flop)
        an, bn = a.numpy(), b.numpy()
        cn = np.empty((m, n), dtype=np.float32)
        ng = best_gflops(lambda: np.matmul(an, bn, out=cn), flop)
        line = f"{r['model']:<19} {r['product']:<8} {f'{m}x{k}x{n}':<14}"
        for v in variants:
            line += f" {r[v]:>9.1f}"
        line += f" {tg:>7.1f} {ng:>7.1f}"
        if "avx512_gflops" in r:
            pk = peak.get("avx512_gflops")
            line += f" | {r['avx512_gflops'] / pk:>11.0%}" if pk else " |"
            line += f" {r['avx512_gflops'] / tg:>11.1f}x"
        print(line)


if __name__ == "__main__":
    main()
