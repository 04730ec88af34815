#!/usr/bin/python3
"""An ONNX file aios-trainer wrote, judged by the ONNX project's own tools, for
tests/unit/trainer/test_onnx_out.c.

    check_export.py MODEL.onnx X.f32 ROWS WIDTH OUTPUTS Y.f32 OPS

Checks MODEL.onnx with onnx.checker (Debian's python3-onnx, full check: shape
inference too) and the contract of src/lib/model/onnx_export.h (IR version 7, opset 13,
input "input" and output "output" of shape (batch, WIDTH) and (batch, OUTPUTS), float32,
the batch symbolic, the nodes' operators OPS, comma-separated, in order); then runs it
with onnxruntime-node (tests/support/ort.py) on the ROWS rows of X.f32 and writes its
outputs to Y.f32. Exit 1 with the reason on any
failure; a missing peer is a failure, not a skip.
"""
import os
import sys

import onnx
import onnx.checker

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../support"))
import ort  # noqa: E402


def die(msg):
    print("check_export.py: " + msg, file=sys.stderr)
    sys.exit(1)


def shape(v):
    t = v.type.tensor_type
    if t.elem_type != onnx.TensorProto.FLOAT:
        die("%s has element type %d, not float32" % (v.name, t.elem_type))
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]


def main():
    if len(sys.argv) != 8:
        die("usage: check_export.py MODEL.onnx X.f32 ROWS WIDTH OUTPUTS Y.f32 OPS")
    path, xfile, rows, width, outputs, yfile, ops = sys.argv[1:]
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    opsets = {o.domain: o.version for o in m.opset_import}
    if m.ir_version != 7 or opsets != {"": 13}:
        die("ir_version %d, opsets %s; expected 7 and {'': 13}" % (m.ir_version, opsets))
    g = m.graph
    ins = [(v.name, shape(v)) for v in g.input]
    outs = [(v.name, shape(v)) for v in g.output]
    if ins != [("input", ["batch", int(width)])] or outs != [("output", ["batch", int(outputs)])]:
        die("inputs %s, outputs %s" % (ins, outs))
    got = ",".join(n.op_type for n in g.node)
    if got != ops:
        die("operators %s, expected %s" % (got, ops))
    ort.run(ort.install(), path, xfile, int(rows), [int(width)], yfile)


if __name__ == "__main__":
    main()
