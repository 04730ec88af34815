#!/usr/bin/python3
"""Trains the benchmark's MLP in PyTorch on a seeded synthetic task and writes:
  WEIGHTS.json  {"layers": [{"in", "out", "w": (out*in), "b": (out)}], "activation": "relu"}
  HELDOUT.f32   rows of (features..., label) as little-endian float32, never trained on
The task: 16 features, 4 classes; each class is a Gaussian blob pushed through a fixed
random nonlinear map, so a linear model cannot solve it and an MLP can (~90 %).
usage: train.py WEIGHTS.json HELDOUT.f32 [hidden...]   (default hidden 64 64)
"""
import json
import sys

import numpy as np
import torch

def make_data(n, rng, centers, mix):
    y = rng.integers(0, 4, n)
    z = centers[y] + rng.normal(0, 1.0, (n, 16))
    x = np.tanh(z @ mix) + 0.1 * z  # nonlinear, overlapping classes
    return x.astype(np.float32), y.astype(np.int64)

def main():
    out_w, out_test = sys.argv[1], sys.argv[2]
    hidden = [int(h) for h in sys.argv[3:]] or [64, 64]
    rng = np.random.default_rng(7)
    centers = rng.normal(0, 1.6, (4, 16))
    mix = rng.normal(0, 0.6, (16, 16))
    xtr, ytr = make_data(20000, rng, centers, mix)
    xte, yte = make_data(5000, rng, centers, mix)
    torch.manual_seed(7)
    sizes = [16] + hidden + [4]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(15):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = (net(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean()
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    doc = {"activation": "relu", "layers": [
        {"in": m.in_features, "out": m.out_features,
         "w": m.weight.detach().numpy().reshape(-1).tolist(),
         "b": m.bias.detach().numpy().tolist()} for m in lin]}
    with open(out_w, "w") as f:
        json.dump(doc, f)
    np.concatenate([xte, yte[:, None].astype(np.float32)], axis=1).astype("<f4").tofile(out_test)
    print(f"torch held-out accuracy {acc:.4f}", file=sys.stderr)

if __name__ == "__main__":
    main()
