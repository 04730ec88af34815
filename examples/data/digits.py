#!/usr/bin/python3
"""The digits of examples/trainingjob-digits.yaml as CSV, from Debian's python3-sklearn.

    examples/data/digits.py [DIR]          (default: the current directory)

scikit-learn ships the 1,797 handwritten digits (8x8 images, pixels 0..16, UCI's optical
recognition set) inside the package, so nothing is downloaded. Writes DIR/digits-train.csv
(1,437 rows) and DIR/digits-test.csv (360 rows): a header pixel_0_0..pixel_7_7,target,
then one image a line, row by row, its digit last. The split is 80/20, seed 0, stratified
by digit: the one tests/unit/trainer/test_real_datasets.c measures.
"""
import os
import sys

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

out = sys.argv[1] if len(sys.argv) > 1 else "."
d = load_digits()
parts = train_test_split(d.data, d.target, test_size=0.2, random_state=0, stratify=d.target)
header = ",".join(list(d.feature_names) + ["target"]) + "\n"
for name, x, y in (("train", parts[0], parts[2]), ("test", parts[1], parts[3])):
    path = os.path.join(out, "digits-%s.csv" % name)
    with open(path, "w") as f:
        f.write(header)
        for img, digit in zip(x, y):
            f.write(",".join(str(int(v)) for v in img) + ",%d\n" % digit)
    print("%s: %d rows" % (path, len(y)))
