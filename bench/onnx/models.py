#!/usr/bin/python3
"""The models, input rows and agreement check of bench/onnx/run.sh.

    models.py make OUTDIR ROWS NAME:SIZES:OUTPUT ...
        For each spec (e.g. small:32,64,64,1:identity), a PyTorch MLP of those layer
        sizes (ReLU between the Linear layers; OUTPUT identity, sigmoid or softmax after
        the last), weights from PyTorch's default initialization (seeded), exported with
        torch.onnx.export (opset 13, symbolic batch) to OUTDIR/NAME.onnx and checked by
        onnx.checker; ROWS input rows to OUTDIR/NAME.x.f32. Prints "NAME DIMS" per model.
    models.py rows MODEL.onnx OUT.f32 ROWS
        ROWS input rows for a model made elsewhere (aios-trainer's model.onnx, say) from
        its graph input's shape; prints its DIMS.
    models.py agree AIOS.f32 ORT.f32 WHAT
        Whether the two output files agree value by value within 1e-5 relative with an
        absolute floor of 1e-6 near 0 (the ONNX tests' tolerance, tests/support/
        serve_fixture.c). Prints the largest difference; on a mismatch names the first
        value that differs and exits 4.

DIMS is the input's shape without the batch, comma-separated. Input rows are float32
little-endian, standard normal, seeded: the same bytes on every run. Exit: 0 ok, 1 bad
usage or an output file missing, 2 a model cannot be made or read, 4 the outputs
disagree.
"""
import os
import sys

import numpy as np

SEED = 7
OPSET = 13
RTOL, ATOL = 1e-5, 1e-6


def die(code, msg):
    print("models.py: " + msg, file=sys.stderr)
    sys.exit(code)


def write_rows(path, rows, dims):
    rng = np.random.default_rng(SEED)
    rng.standard_normal((rows, *dims)).astype("<f4").tofile(path)


def mlp(sizes, output):
    import torch

    layers = []
    for k in range(len(sizes) - 1):
        if k:
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
    last = {"identity": None, "sigmoid": torch.nn.Sigmoid(), "softmax": torch.nn.Softmax(dim=1)}
    if output not in last:
        die(1, "output activation %r is not identity, sigmoid or softmax" % output)
    if last[output] is not None:
        layers.append(last[output])
    return torch.nn.Sequential(*layers).eval()


def make(outdir, rows, specs):
    import onnx
    import onnx.checker
    import torch

    for spec in specs:
        try:
            name, sizes, output = spec.split(":")
            sizes = [int(s) for s in sizes.split(",")]
            if len(sizes) < 2 or min(sizes) < 1:
                raise ValueError
        except ValueError:
            die(1, "model spec %r is not NAME:IN,HIDDEN...,OUT:OUTPUT" % spec)
        torch.manual_seed(SEED)
        path = os.path.join(outdir, name + ".onnx")
        with torch.no_grad():
            torch.onnx.export(mlp(sizes, output), torch.zeros(2, sizes[0]), path,
                              input_names=["features"], output_names=["scores"],
                              opset_version=OPSET,
                              dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}})
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
        except Exception as e:  # onnx raises several kinds
            die(2, "%s: torch.onnx.export wrote a model onnx.checker refuses: %s" % (path, e))
        write_rows(os.path.join(outdir, name + ".x.f32"), rows, [sizes[0]])
        print(name, sizes[0])


def input_dims(model):
    import onnx

    try:
        g = onnx.load(model).graph
    except Exception as e:
        die(2, "%s: not an ONNX model onnx can read: %s" % (model, e))
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        die(2, "%s: %d graph inputs, want one" % (model, len(inputs)))
    shape = inputs[0].type.tensor_type.shape.dim[1:]
    dims = [d.dim_value for d in shape]
    if not dims or any(d <= 0 for d in dims):
        die(2, "%s: input %r has no fixed shape past the batch" % (model, inputs[0].name))
    return dims


def agree(afile, ofile, what):
    try:
        a = np.fromfile(afile, dtype="<f4").astype(np.float64)
        o = np.fromfile(ofile, dtype="<f4").astype(np.float64)
    except OSError as e:
        die(1, "%s: cannot read the outputs: %s" % (what, e))
    if a.size != o.size or a.size == 0:
        die(4, "mismatch: %s: aios wrote %d values, onnxruntime %d" % (what, a.size, o.size))
    d = np.abs(a - o)
    bad = np.nonzero(~(d <= RTOL * np.abs(o) + ATOL))[0]  # NaN counts as a mismatch
    if bad.size:
        i = bad[0]
        die(4, "mismatch: %s: value %d is %.9g in aios, %.9g in onnxruntime (|d| %.3g > "
            "%.3g); %d of %d values differ" % (what, i, a[i], o[i], d[i],
                                                RTOL * abs(o[i]) + ATOL, bad.size, a.size))
    print("%s: %d values agree, largest |d| %.3g" % (what, a.size, d.max()))


def main(argv):
    if len(argv) >= 2 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(argv) < 2:
        die(1, "a command is required: make, rows or agree (see --help)")
    cmd, args = argv[1], argv[2:]
    if cmd == "make" and len(args) >= 3 and args[1].isdigit():
        make(args[0], int(args[1]), args[2:])
    elif cmd == "rows" and len(args) == 3 and args[2].isdigit():
        if not os.path.isfile(args[0]):
            die(2, "%s: no such model file" % args[0])
        dims = input_dims(args[0])
        write_rows(args[1], int(args[2]), dims)
        print(",".join(str(d) for d in dims))
    elif cmd == "agree" and len(args) == 3:
        agree(*args)
    else:
        die(1, "bad usage: %s (see --help)" % " ".join(argv[1:]))


if __name__ == "__main__":
    main(sys.argv)
