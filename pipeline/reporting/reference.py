# ruff: noqa: E501  (one table row per line reads best)
"""Published numbers, copied from the papers, for side-by-side tables.

Müller et al. 2019 (Tables 2-4) and Wagner et al. 2023 (the ReScience
replication, Tables 2-4). Keys: (dataset, model) -> {alpha: value}. Accuracy
in percent; ECE as a fraction. Only these constants are hard-coded: every
number of this project's own is computed by the pipeline.
"""
from __future__ import annotations

from ..data import naming, registry

# The papers' numbers for a dataset we can only approximate: the offline JPEG copy of CIFAR-10.
REFERENCE_DATASET = {"cifar10_jpeg": "cifar10"}


def reference_values(table: dict, ds: str, arch: str):
    """A paper's numbers for ``ds`` (or for the data it stands in for) and ``arch``, or None."""
    return table.get((REFERENCE_DATASET.get(ds, ds), arch))


def reference_title(ds: str) -> str:
    """The papers' rows name the data the papers used (the official CIFAR-10 beside the JPEG stand-in)."""
    title = registry.get(REFERENCE_DATASET.get(ds, ds)).title
    stand_in = ds in REFERENCE_DATASET or naming.title(ds) != title  # ours read a stand-in's files
    return f"{title} (official)" if stand_in else title

TABLE2_ACCURACY = {
    "muller": {
        ("cifar10", "alexnet"): {0.0: 86.8, 0.1: 86.7},
        ("cifar100", "resnet56"): {0.0: 72.1, 0.1: 72.7},
        ("imagenet", "inception_v4"): {0.0: 80.9, 0.1: 80.9},
    },
    "replication": {
        ("mnist", "fcn"): {0.0: 99.06, 0.05: 99.33, 0.1: 99.31, 0.15: 99.24, 0.3: 99.13},
        ("emnist", "fcn"): {0.0: 88.79, 0.05: 89.11, 0.1: 89.35, 0.15: 89.19, 0.3: 88.88},
        ("fashion_mnist", "fcn"): {0.0: 91.01, 0.05: 90.66, 0.1: 90.45, 0.15: 90.59, 0.3: 90.37},
        ("cifar10", "alexnet"): {0.0: 85.01, 0.05: 85.13, 0.1: 85.47, 0.15: 84.83, 0.3: 86.02},
        ("cifar10", "resnet56"): {0.0: 93.59, 0.05: 93.62, 0.1: 93.33, 0.15: 93.55, 0.3: 93.53},
        ("cifar100", "resnet56"): {0.0: 71.61, 0.05: 71.99, 0.1: 72.07, 0.15: 71.74, 0.3: 71.75},
        ("cub200", "resnet34"): {0.0: 77.75, 0.05: 80.38, 0.1: 80.48, 0.15: 81.12, 0.3: 80.77},
        ("tiny_imagenet", "resnet50"): {0.0: 72.20, 0.05: 72.65, 0.1: 72.30, 0.15: 72.28, 0.3: 72.75},
    },
}

# Table 3: ECE (15 bins). "ts": (ECE after temperature scaling, T); "ls": {alpha: ECE at T=1}.
TABLE3_ECE = {
    "muller": {
        ("cifar100", "resnet56"): {"hard": 0.150, "ts": (0.021, 1.9), "ls": {0.05: 0.024}},
        ("imagenet", "inception_v4"): {"hard": 0.071, "ts": (0.022, 1.4), "ls": {0.1: 0.035}},
        ("wmt14_en_de", "transformer"): {"hard": 0.056, "ts": (0.018, 1.13), "ls": {0.1: 0.019}},
    },
    "replication": {
        ("mnist", "fcn"): {"hard": 0.002, "ts": (0.001, 1.06), "ls": {0.05: 0.056, 0.1: 0.102, 0.15: 0.147, 0.3: 0.281}},
        ("emnist", "fcn"): {"hard": 0.017, "ts": (0.008, 1.14), "ls": {0.05: 0.056, 0.1: 0.108, 0.15: 0.154, 0.3: 0.288}},
        ("fashion_mnist", "fcn"): {"hard": 0.010, "ts": (0.008, 1.1), "ls": {0.05: 0.042, 0.1: 0.085, 0.15: 0.128, 0.3: 0.252}},
        ("cifar10", "alexnet"): {"hard": 0.097, "ts": (0.012, 2.5), "ls": {0.05: 0.026, 0.1: 0.048, 0.15: 0.087, 0.3: 0.221}},
        ("cifar10", "resnet56"): {"hard": 0.049, "ts": (0.006, 3.1), "ls": {0.05: 0.028, 0.1: 0.065, 0.15: 0.102, 0.3: 0.222}},
        ("cifar100", "resnet56"): {"hard": 0.207, "ts": (0.029, 2.9), "ls": {0.05: 0.053, 0.1: 0.043, 0.15: 0.045, 0.3: 0.120}},
        ("cub200", "resnet34"): {"hard": 0.082, "ts": (0.013, 1.4), "ls": {0.05: 0.159, 0.1: 0.235, 0.15: 0.286, 0.3: 0.400}},
        ("tiny_imagenet", "resnet50"): {"hard": 0.150, "ts": (0.013, 1.7), "ls": {0.05: 0.060, 0.1: 0.045, 0.15: 0.054, 0.3: 0.166}},
        ("multi30k", "transformer"): {"hard": 0.449, "ts": (0.058, 1.8), "ls": {0.05: 0.475, 0.1: 0.372, 0.15: 0.222, 0.3: 0.110}},
    },
}

# Table 4: MNIST distillation, error in percent: teacher -> (teacher error, student error).
TABLE4_DISTILLATION = {
    "muller": {"dropout": (0.67, 0.74), "label_smoothing": (0.59, 0.91)},
    "replication": {"dropout": (0.81, 0.93), "label_smoothing": (0.69, 1.05)},
}
