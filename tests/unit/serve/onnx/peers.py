#!/usr/bin/python3
"""ONNX models and their reference outputs for tests/unit/serve/test_onnx.c.

    peers.py OUTDIR

Writes into OUTDIR, for each model NAME in manifest.txt (one line: NAME ROWS IN_DIMS
OUT_WIDTH, IN_DIMS comma-separated without the batch):
  NAME.onnx        the model (checked by onnx.checker)
  NAME.x.f32       ROWS random input rows (float32, little-endian)
  NAME.ort.f32     onnxruntime-node's outputs (CPU provider, one thread)
  NAME.torch.f32   PyTorch's outputs, for the models PyTorch exported
and refused models conv.onnx (a Conv layer) and bad_*.onnx. onnxruntime-node comes
from tests/support/ort.py (npm, pinned, installed on first use); any failure is fatal
(exit 1), never a skip.
"""
import os
import sys

import numpy as np
import onnx
import onnx.checker
import onnx.helper as oh
import onnx.numpy_helper as onp
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../support"))
import ort  # noqa: E402  (tests/support/ort.py: onnxruntime-node, pinned)


def die(msg):
    print("peers.py: " + msg, file=sys.stderr)
    sys.exit(1)


def run_ort(ortd, path, x, name):
    ort.run(ortd, path, path[:-5] + ".x.f32", x.shape[0], x.shape[1:], path[:-5] + ".ort.f32")


def save(outdir, name, model_path, x, width, torch_y, manifest, ortd):
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    x.astype("<f4").tofile(os.path.join(outdir, name + ".x.f32"))
    if torch_y is not None:
        torch_y.astype("<f4").tofile(os.path.join(outdir, name + ".torch.f32"))
    run_ort(ortd, model_path, x, name)
    manifest.append("%s %d %s %d" % (name, x.shape[0], ",".join(str(d) for d in x.shape[1:]),
                                      width))


def export(model, x, path, opset, dynamic=True):
    model.eval()
    torch.onnx.export(model, torch.from_numpy(x[:2]), path, input_names=["features"],
                      output_names=["scores"], opset_version=opset,
                      dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}}
                      if dynamic else None)


def trained_mlp(d_in, d_out, seed):
    """An MLP trained a few epochs by PyTorch on random data (seeded)."""
    torch.manual_seed(seed)
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((512, d_in)).astype(np.float32))
    y = torch.from_numpy(g.integers(0, d_out, 512))
    m = torch.nn.Sequential(torch.nn.Linear(d_in, 32), torch.nn.ReLU(),
                            torch.nn.Linear(32, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, d_out), torch.nn.Softmax(dim=1))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(5):
        for i in range(0, 512, 64):
            opt.zero_grad()
            p = m(x[i:i + 64])
            loss = torch.nn.functional.nll_loss(torch.log(p + 1e-9), y[i:i + 64])
            loss.backward()
            opt.step()
    return m


class Normalized(torch.nn.Module):
    """Input normalization as Sub/Div, a LeakyRelu MLP, LogSoftmax: other exported ops."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.register_buffer("mean", torch.linspace(-1, 1, d_in))
        self.register_buffer("std", torch.linspace(0.5, 2, d_in))
        self.l1 = torch.nn.Linear(d_in, 24)
        self.l2 = torch.nn.Linear(24, d_out)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = (x - self.mean) / self.std
        h = torch.nn.functional.leaky_relu(self.l1(x), 0.1) * 0.5 + 0.25
        return torch.log_softmax(self.l2(h), dim=1)


class MatMulNet(torch.nn.Module):
    """x @ W + b (MatMul + Add), a reshape within the row, Sigmoid."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.w = torch.nn.Parameter(torch.randn(12, 5))
        self.b = torch.nn.Parameter(torch.randn(5))

    def forward(self, x):
        x = x.reshape(-1, 12)
        return torch.sigmoid(x @ self.w + self.b)


def handmade(path):
    """A graph as sklearn-onnx and Keras writers produce it: Transpose of an
    initializer, Constant nodes, Identity, Gemm with transB=0, fixed batch-free dims."""
    g = np.random.default_rng(5)
    w = g.standard_normal((3, 6)).astype(np.float32)  # (out, in): transposed in the graph
    b = g.standard_normal(3).astype(np.float32)
    nodes = [
        oh.make_node("Transpose", ["W"], ["Wt"], name="transpose_w", perm=[1, 0]),
        oh.make_node("Constant", [], ["bias"], name="const_bias", value=onp.from_array(b)),
        oh.make_node("Identity", ["x"], ["x1"], name="identity"),
        oh.make_node("Gemm", ["x1", "Wt", "bias"], ["z"], name="gemm", alpha=1.5, beta=0.5),
        oh.make_node("Softmax", ["z"], ["probabilities"], name="softmax", axis=1),
    ]
    graph = oh.make_graph(nodes, "handmade",
                          [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 6])],
                          [oh.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT,
                                                     ["N", 3])],
                          [onp.from_array(w, "W")])
    m = oh.make_model(graph, producer_name="aios-test", opset_imports=[oh.make_opsetid("", 9)])
    m.ir_version = 7
    onnx.save(m, path)


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.fc = torch.nn.Linear(2 * 6 * 6, 2)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x), 1))


def main():
    if len(sys.argv) != 2:
        die("usage: peers.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    ortd = ort.install()
    torch.set_num_threads(1)
    g = np.random.default_rng(42)
    manifest = []

    # (1) the trained MLP, opset 13, 1,000 random rows
    m = trained_mlp(10, 4, 1)
    x = g.standard_normal((1000, 10)).astype(np.float32)
    p = os.path.join(outdir, "mlp.onnx")
    export(m, x, p, 13)
    with torch.no_grad():
        y = m(torch.from_numpy(x)).numpy()
    save(outdir, "mlp", p, x, 4, y, manifest, ortd)

    # more ops: Flatten of (N, 2, 4) input, Sub/Div, LeakyRelu, Mul/Add, LogSoftmax; opset 17
    m = Normalized(8, 3)
    x = g.standard_normal((200, 2, 4)).astype(np.float32)
    p = os.path.join(outdir, "normalized.onnx")
    export(m, x, p, 17)
    with torch.no_grad():
        y = m(torch.from_numpy(x)).numpy()
    save(outdir, "normalized", p, x, 3, y, manifest, ortd)

    # MatMul + Add, Reshape, Sigmoid; opset 11, fixed batch
    m = MatMulNet()
    x = g.standard_normal((2, 3, 4)).astype(np.float32)
    p = os.path.join(outdir, "matmul.onnx")
    export(m, x, p, 11, dynamic=False)
    with torch.no_grad():
        y = m(torch.from_numpy(x)).numpy()
    save(outdir, "matmul", p, x, 5, y, manifest, ortd)

    # Transpose of an initializer, Constant, Identity, Gemm alpha/beta; opset 9
    p = os.path.join(outdir, "handmade.onnx")
    handmade(p)
    x = g.standard_normal((64, 6)).astype(np.float32)
    save(outdir, "handmade", p, x, 3, None, manifest, ortd)

    # (2) refused: a convolution
    m = ConvNet()
    x = g.standard_normal((2, 1, 8, 8)).astype(np.float32)
    export(m, x, os.path.join(outdir, "conv.onnx"), 13)
    onnx.checker.check_model(onnx.load(os.path.join(outdir, "conv.onnx")))

    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
