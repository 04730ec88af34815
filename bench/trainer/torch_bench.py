#!/usr/bin/python3
"""PyTorch peer of aios-trainer for bench/trainer/run.sh: the same f32 dataset, model,
loss (MSE), optimizer (SGD or Adam), batch size, epochs and thread count; minibatches drawn from
a fresh permutation each epoch, gathered by index, as aios-trainer does. Prints one JSON
line per epoch with wall-clock and CPU-time throughput. --max-samples times only the
start of each epoch (after a warm-up), which keeps slow configurations within the
benchmark's time budget without changing the per-step work."""
import argparse
import json
import os
import struct
import sys
import time

# The thread count holds for every pool the process has, set before numpy and torch load
# their BLAS: torch.set_num_threads alone leaves OpenBLAS's own threads at one per core,
# so a "1 thread" run used both cores (CPU time twice the wall time) and a 2-thread run
# oversubscribed them.
for i, arg in enumerate(sys.argv):
    if arg.startswith("--threads"):
        n = arg.split("=", 1)[1] if "=" in arg else (sys.argv[i + 1] if i + 1 < len(sys.argv) else "1")
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n

import numpy as np  # noqa: E402 (after the thread settings above)
import torch  # noqa: E402


def load(path):
    with open(path, "rb") as f:
        head = f.read(32)
    magic, version, feats, labels, _, rows = struct.unpack("<8sIIIIQ", head)
    assert magic == b"AIOSF32\0" and version == 1, "not an AIOSF32 file"
    raw = np.fromfile(path, dtype="<f4", offset=32).reshape(rows, feats + labels)
    return torch.from_numpy(raw[:, :feats].copy()), torch.from_numpy(raw[:, feats:].copy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", choices=["linear", "mlp"], required=True)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--max-samples", type=int, default=0,
                    help="time only the first N samples of each epoch (0: all)")
    ap.add_argument("--warmup-steps", type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(42)
    x, y = load(a.data)
    n, d = x.shape
    if a.model == "linear":
        model = torch.nn.Linear(d, 1)
    else:
        model = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 1))
    if a.optimizer == "adam":  # aios-trainer's defaults: betas (0.9, 0.999), eps 1e-8
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    loss_fn = torch.nn.MSELoss()
    g = torch.Generator().manual_seed(42)

    def step(idx):
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    warm = torch.randperm(n, generator=g)
    for i in range(a.warmup_steps):  # first calls allocate and pick kernels
        step(warm[i * a.batch % n:(i * a.batch % n) + a.batch])
    limit = min(n, a.max_samples) if a.max_samples else n
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(n, generator=g)
        t0, c0 = time.perf_counter(), time.process_time()
        total = 0.0
        for i in range(0, limit, a.batch):
            idx = perm[i:i + a.batch]
            total += step(idx).item() * len(idx)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"epoch": epoch, "loss": total / limit, "samples_per_sec": limit / wall,
                          "cpu_s": cpu, "wall_s": wall, "rows": limit}), flush=True)


if __name__ == "__main__":
    main()
