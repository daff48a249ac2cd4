#!/usr/bin/python3
"""make_metrics_ref.py — writes tests/golden/metrics_ref.json, the reference values tests/test_metrics.c
compares detect/metrics.c against. Independent numpy implementations, written from the definitions
(not from the C code): AUC by brute force over every (fake, real) pair, AP and ROC from thresholds
enumerated with np.unique, EER and TPR@FPR by searching every ROC segment, and the group bootstrap by
actually duplicating samples, with a Python copy of util/rng.h (xoshiro256** seeded by splitmix64)
so the replicates are the same draws the C code makes.

Run: /usr/bin/python3 tests/golden/make_metrics_ref.py   (numpy only; sklearn is not needed)
Definitions follow scikit-learn's roc_curve / average_precision_score:
https://scikit-learn.org/stable/modules/model_evaluation.html#receiver-operating-characteristic-roc
"""
import json
import os

import numpy as np

M64 = (1 << 64) - 1


class Xoshiro:
    """util/rng.h: xoshiro256** (https://prng.di.unimi.it/), seeded by splitmix64."""

    def __init__(self, seed):
        self.s = []
        x = seed & M64
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        x = (s[1] * 5) & M64
        result = ((((x << 7) | (x >> 57)) & M64) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
        return result

    def randint(self, n):
        return ((self.u64() >> 32) * n) >> 32


def roc(s, y):
    thr = np.unique(s)[::-1]
    P, N = y.sum(), (1 - y).sum()
    fpr, tpr = [0.0], [0.0]
    for t in thr:
        pred = s >= t
        tpr.append((pred & (y == 1)).sum() / P)
        fpr.append((pred & (y == 0)).sum() / N)
    return np.array(fpr), np.array(tpr), np.concatenate([[np.inf], thr])


def auc_pairs(s, y):
    pos, neg = s[y == 1], s[y == 0]
    d = pos[:, None] - neg[None, :]
    return ((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size


def ap(s, y):
    total, prev_r = 0.0, 0.0
    P = y.sum()
    for t in np.unique(s)[::-1]:
        pred = s >= t
        tp = (pred & (y == 1)).sum()
        r = tp / P
        prec = tp / pred.sum()
        total += (r - prev_r) * prec
        prev_r = r
    return total


def eer(fpr, tpr, thr):
    fnr = 1 - tpr
    for i in range(1, len(fpr)):
        a0, a1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
        if a0 > 0 and a1 <= 0:
            t = a0 / (a0 - a1)
            e = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
            e2 = fnr[i - 1] + t * (fnr[i] - fnr[i - 1])
            assert abs(e - e2) < 1e-12
            th = thr[i] if np.isinf(thr[i - 1]) else thr[i - 1] + t * (thr[i] - thr[i - 1])
            return e, th
    raise AssertionError("no crossing")


def tpr_at(fpr, tpr, x):
    best, cons = -1.0, -1.0
    for i in range(len(fpr)):
        if fpr[i] <= x:
            cons = max(cons, tpr[i])
            if fpr[i] == x:
                best = max(best, tpr[i])
        if i + 1 < len(fpr) and fpr[i] < x < fpr[i + 1]:
            best = max(best, tpr[i] + (x - fpr[i]) / (fpr[i + 1] - fpr[i]) * (tpr[i + 1] - tpr[i]))
    return best, cons


def point(s, y):
    fpr, tpr, thr = roc(s, y)
    e, eth = eer(fpr, tpr, thr)
    t1, t1c = tpr_at(fpr, tpr, 0.01)
    t01, t01c = tpr_at(fpr, tpr, 0.001)
    return {
        "auc": auc_pairs(s, y), "ap": ap(s, y), "eer": e, "eer_threshold": float(eth),
        "acc": float(((s >= 0.5) == (y == 1)).mean()),
        "tpr_at_fpr1": t1, "tpr_at_fpr01": t01,
        "tpr_at_fpr1_conservative": t1c, "tpr_at_fpr01_conservative": t01c,
        "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
    }


def bootstrap(s, y, g, n_boot, seed):
    ids = np.unique(g)
    G = len(ids)
    members = [np.nonzero(g == u)[0] for u in ids]
    rng = Xoshiro(seed)
    vals = {k: [] for k in ["auc", "ap", "eer", "acc", "tpr_at_fpr1", "tpr_at_fpr01"]}
    for _ in range(n_boot):
        idx = np.concatenate([members[rng.randint(G)] for _ in range(G)])
        ys = y[idx]
        if ys.min() == ys.max():
            continue
        p = point(s[idx], ys)
        for k in vals:
            vals[k].append(p[k])
    out = {"valid": len(vals["auc"])}
    for k, v in vals.items():
        out[k] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
    return out


def case(name, s, y, g=None, n_boot=0, seed=0):
    s = np.asarray(s, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    sd = s.astype(np.float64)
    c = {"name": name, "scores": sd.tolist(), "labels": y.tolist(), "expected": point(sd, y)}
    if g is not None:
        c["groups"] = [int(v) for v in g]
        c["n_boot"], c["seed"] = n_boot, seed
        c["bootstrap"] = bootstrap(sd, y, np.asarray(g), n_boot, seed)
    return c


def main():
    rng = np.random.default_rng(20261122)
    cases = []
    # a few hand-sized examples, ties included
    cases.append(case("tiny_ties", [0.9, 0.8, 0.8, 0.7, 0.3, 0.3, 0.1], [1, 1, 0, 1, 0, 1, 0]))
    # Gaussian scores rounded to 2 decimals (many ties), squashed to probabilities
    n = 400
    y = rng.integers(0, 2, n)
    z = rng.normal(0, 1, n) + 1.2 * y
    cases.append(case("gauss_ties", np.round(1 / (1 + np.exp(-z)), 2), y))
    # imbalanced: 3000 real, 60 fake, continuous scores (TPR at 0.1% FPR resolvable)
    y = np.concatenate([np.zeros(3000, int), np.ones(60, int)])
    z = rng.normal(0, 1, len(y)) + 2.5 * y
    cases.append(case("imbalanced", 1 / (1 + np.exp(-z)), y))
    # grouped: 30 identities x 10 frames, per-identity offset (correlated frames), bootstrap
    G, F = 30, 10
    g = np.repeat(np.arange(G) * 7 + 3, F)  # ids not 0..G-1 on purpose
    y = np.repeat(rng.integers(0, 2, G), F)
    y[::7] = 1 - y[::7]
    z = rng.normal(0, 1, G * F) + np.repeat(rng.normal(0, 0.8, G), F) + 1.0 * y
    cases.append(case("grouped_boot", 1 / (1 + np.exp(-z)), y, g, n_boot=200, seed=12345))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_ref.json")
    with open(out + ".tmp", "w") as f:
        json.dump({"generator": "tests/golden/make_metrics_ref.py", "numpy": np.__version__, "cases": cases}, f)
    os.replace(out + ".tmp", out)
    print("wrote", out)


if __name__ == "__main__":
    main()
