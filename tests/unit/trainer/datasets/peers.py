#!/usr/bin/python3
"""Real datasets and two peers for tests/unit/trainer/test_real_datasets.c.

    peers.py OUTDIR CASES

The datasets are the ones Debian's python3-sklearn ships inside the package (no
download): iris, wine, breast_cancer, digits (8x8 images, 64 pixels 0..16) and diabetes.
Each is split once, 80/20 with seed 0, stratified by class for the classification sets
(sklearn.model_selection.train_test_split), and written into OUTDIR as:
  DS.train.csv    the training rows: a header of sklearn's feature names, then "target"
  DS.test.x.f32   the test rows' features (float32, little-endian, row-major)
  DS.test.y.f32   the test rows' labels (class index, or the regression target)
  DS.meta         one line: TEST_ROWS FEATURES CLASSES (0 for regression)

CASES holds one case a line: NAME DATASET MODEL HIDDEN ACTIVATION OPTIMIZER LR EPOCHS
BATCH SEED (MODEL softmax, logistic, linear or mlp; HIDDEN comma-separated widths, "-"
for none). For each case both peers train on DS.train.csv's rows and write their outputs
on the test rows, the shape aios-serve answers in (class probabilities, one probability
for a binary model, the value for regression), to NAME.sklearn.f32 and NAME.torch.f32:

  PyTorch   the same model as aios-trainer, trained the same way: features standardized
            with the training rows' mean and population standard deviation (1 where it is
            0), zero initial weights for one-layer models and Glorot-uniform weights with
            zero biases for MLPs, the same loss (CrossEntropyLoss, BCEWithLogitsLoss,
            MSELoss: means over the batch), the same optimizer and settings, epochs, batch
            size (a fresh permutation per epoch, the last batch short), seed for its own
            generator; one thread.
  sklearn   the estimator a scikit-learn user reaches for, on the same standardized rows:
            LogisticRegression (lbfgs to convergence, its default L2 with C=1) for softmax
            and logistic, LinearRegression (least squares, closed form) for linear;
            MLPClassifier / MLPRegressor for mlp with the same hidden widths, activation,
            optimizer, learning rate, epochs (max_iter), batch size and seed, no L2
            (alpha=0) and no early stop. Its squared loss is half the MSE, so an sgd
            MLPRegressor gets twice the learning rate to take aios's steps.

Any failure exits 1 with the reason: a missing peer is a failure, never a skip.
"""
import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import sklearn.datasets  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

SPLIT_SEED = 0
TEST_SIZE = 0.2
REGRESSION = {"diabetes"}


def die(msg):
    print("peers.py: " + msg, file=sys.stderr)
    sys.exit(1)


def write_f32(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(path)


def export(outdir, name):
    """Splits dataset name and writes its files; returns (xtr, ytr, xte, classes)."""
    b = getattr(sklearn.datasets, "load_" + name)()
    x = b.data.astype(np.float32)
    y = b.target
    regression = name in REGRESSION
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                                          stratify=None if regression else y)
    classes = 0 if regression else int(y.max()) + 1
    names = [str(n) for n in b.feature_names]
    if any("," in n or '"' in n for n in names) or "target" in names:
        die("%s: a feature name would break the CSV header: %r" % (name, names))
    with open(os.path.join(outdir, name + ".train.csv"), "w") as f:
        f.write(",".join(names + ["target"]) + "\n")
        for row, t in zip(xtr, ytr):
            f.write(",".join(repr(float(v)) for v in row))
            f.write(",%s\n" % (repr(float(t)) if regression else str(int(t))))
    write_f32(os.path.join(outdir, name + ".test.x.f32"), xte)
    write_f32(os.path.join(outdir, name + ".test.y.f32"), yte.astype(np.float32))
    with open(os.path.join(outdir, name + ".meta"), "w") as f:
        f.write("%d %d %d\n" % (xte.shape[0], xte.shape[1], classes))
    return xtr, ytr, xte, classes


def standardize(xtr, xte):
    """The trainer's normalization: training rows' mean and population std (1 if 0)."""
    mean = xtr.astype(np.float64).mean(axis=0)
    std = np.sqrt(((xtr.astype(np.float64) - mean) ** 2).mean(axis=0))
    std[std <= 1e-12] = 1.0
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    return (xtr - mean) / std, (xte - mean) / std


def outputs_of(model, classes):
    """Width of the model's output layer, as aios-trainer builds it."""
    if model == "softmax" or (model == "mlp" and classes > 2):
        return classes
    return 1


def torch_peer(c, ztr, ytr, zte, classes):
    torch.manual_seed(c["seed"])
    gen = torch.Generator().manual_seed(c["seed"])
    width = outputs_of(c["model"], classes)
    sizes = [ztr.shape[1]] + c["hidden"] + [width]
    layers = []
    for k in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[k], sizes[k + 1])
        if len(sizes) > 2:
            torch.nn.init.xavier_uniform_(lin.weight)
        else:
            torch.nn.init.zeros_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if k < len(sizes) - 2:
            layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                           "sigmoid": torch.nn.Sigmoid}[c["activation"]]())
    net = torch.nn.Sequential(*layers)
    if classes == 0:
        loss_fn, target = torch.nn.MSELoss(), torch.tensor(ytr, dtype=torch.float32)[:, None]
        head = lambda z: z  # noqa: E731
    elif width == 1:
        loss_fn = torch.nn.BCEWithLogitsLoss()
        target = torch.tensor(ytr, dtype=torch.float32)[:, None]
        head = torch.sigmoid
    else:
        loss_fn, target = torch.nn.CrossEntropyLoss(), torch.tensor(ytr, dtype=torch.int64)
        head = lambda z: torch.softmax(z, dim=1)  # noqa: E731
    if c["optimizer"] == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)
    elif c["optimizer"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=c["lr"])
    else:
        die("%s: optimizer %s has no peer here" % (c["name"], c["optimizer"]))
    x = torch.tensor(ztr, dtype=torch.float32)
    n, bs = x.shape[0], c["batch"]
    for _ in range(c["epochs"]):
        perm = torch.randperm(n, generator=gen)
        for first in range(0, n, bs):
            idx = perm[first:first + bs]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), target[idx])
            loss.backward()
            opt.step()
        if not torch.isfinite(loss):
            die("%s: PyTorch diverged" % c["name"])
    with torch.no_grad():
        return head(net(torch.tensor(zte, dtype=torch.float32))).numpy()


def sklearn_peer(c, ztr, ytr, zte, classes):
    m = c["model"]
    if m in ("softmax", "logistic"):
        est = LogisticRegression(max_iter=5000, random_state=c["seed"]).fit(ztr, ytr)
    elif m == "linear":
        est = LinearRegression().fit(ztr, ytr)
    elif m == "mlp":
        common = dict(hidden_layer_sizes=tuple(c["hidden"]),
                      activation={"sigmoid": "logistic"}.get(c["activation"], c["activation"]),
                      solver=c["optimizer"], alpha=0.0, batch_size=c["batch"],
                      learning_rate_init=c["lr"], max_iter=c["epochs"], shuffle=True,
                      random_state=c["seed"], tol=0.0, n_iter_no_change=c["epochs"] + 1)
        if c["optimizer"] == "sgd":
            common.update(momentum=0.0, nesterovs_momentum=False, learning_rate="constant")
        if classes:
            est = MLPClassifier(**common).fit(ztr, ytr)
        else:
            if c["optimizer"] == "sgd":
                common["learning_rate_init"] = 2 * c["lr"]
            est = MLPRegressor(**common).fit(ztr, ytr)
    else:
        die("%s: model %s has no peer here" % (c["name"], m))
    if classes == 0:
        return est.predict(zte)[:, None]
    p = est.predict_proba(zte)
    return p[:, 1:2] if outputs_of(m, classes) == 1 else p


def main():
    if len(sys.argv) != 3:
        die("usage: peers.py OUTDIR CASES")
    outdir = sys.argv[1]
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    cases = []
    with open(sys.argv[2]) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if len(w) != 10:
                die("bad case line: %r" % line)
            cases.append(dict(name=w[0], dataset=w[1], model=w[2],
                              hidden=[] if w[3] == "-" else [int(v) for v in w[3].split(",")],
                              activation=w[4], optimizer=w[5], lr=float(w[6]),
                              epochs=int(w[7]), batch=int(w[8]), seed=int(w[9])))
    data = {}
    for c in cases:
        if c["dataset"] not in data:
            data[c["dataset"]] = export(outdir, c["dataset"])
        xtr, ytr, xte, classes = data[c["dataset"]]
        ztr, zte = standardize(xtr, xte)
        for peer, fn in (("sklearn", sklearn_peer), ("torch", torch_peer)):
            y = fn(c, ztr, ytr, zte, classes)
            if y.shape != (xte.shape[0], outputs_of(c["model"], classes)):
                die("%s: %s gave shape %s" % (c["name"], peer, y.shape))
            if not np.all(np.isfinite(y)):
                die("%s: %s gave non-finite outputs" % (c["name"], peer))
            write_f32(os.path.join(outdir, "%s.%s.f32" % (c["name"], peer)), y)


if __name__ == "__main__":
    main()
