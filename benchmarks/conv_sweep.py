"""How fast do the convolutional families train? Three engines side by side, in one run.

For ``cnn5`` (Nakkiran et al.'s 5-layer CNN, k = 1..64) and ``resnet18k`` (pre-activation
ResNet18, k = 1..16), with and without BatchNorm, on CIFAR-shaped synthetic data
(32x32x3, 10 classes, batch 128, Adam lr 1e-4), it times:

  (a) the per-cell ``fit`` loop (ddbench's reference ``FitTrainer``), wall time;
  (b) a hand-written jitted JAX loop (pure JAX, no Keras, no ddbench code): the same
      architecture and optimizer, one ``lax.scan`` per epoch, one seed at a time;
  (b') with several seeds, (b) with the seeds vmapped by hand;
  (c) ddbench's engine (``StatelessTrainer``): the Keras models of a bundle (every
      seed of a width) as one compiled program, seeds as vmapped lanes on JAX.

and prints training images/s of each, the ratios c/a, c/b (and c/b'), then projects the
hours of the full Nakkiran et al. sweep (ResNet18 k = 1..64, 4000 epochs of 50k images)
from the engine's measured ResNet images/s.

    python benchmarks/conv_sweep.py            # reduced CPU size: cnn5 k 1..8, resnet18k k 1..4
    python benchmarks/conv_sweep.py --full     # cnn5 k 1..64, resnet18k k 1..16, 1 and 3 seeds (for a GPU)
    python benchmarks/conv_sweep.py --smoke    # k = 1 of each, one timed batch (CI)

Runs under ``KERAS_BACKEND=jax`` (set here before Keras is imported). Nothing is
asserted about speed: every number is a measurement of this run, on this device.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

BATCH, LR = 128, 1e-4
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-7  # Keras' Adam defaults
BN_MOMENTUM, BN_EPS = 0.9, 1e-5  # ddbench's conv families (PyTorch's BatchNorm defaults)
SIZES = {
    "full": {"cnn5": [1, 2, 4, 8, 16, 32, 64], "resnet18k": [1, 2, 4, 8, 16]},
    "cpu": {"cnn5": [1, 2, 4, 8], "resnet18k": [1, 2, 4]},
    "smoke": {"cnn5": [1], "resnet18k": [1]},
}


# --------------------------------------------------------------------------- (b) hand-written JAX


def _he(key, shape, fan_in):
    import jax

    return jax.random.normal(key, shape) * math.sqrt(2.0 / fan_in)


class HandwrittenNet:
    """A pure-JAX twin of ddbench's ``cnn5`` / ``resnet18k`` (NHWC, same-padded 3x3 convolutions).

    ``params`` are the trained arrays, ``stats`` the BatchNorm moving statistics. It shares no
    code with ddbench; ``count()`` is checked against the family's own parameter count so that
    both sides train the same architecture.
    """

    def __init__(self, family: str, k: int, batch_norm: bool, classes: int = 10, channels: int = 3):
        self.family, self.k, self.bn, self.classes, self.c_in = family, k, batch_norm, classes, channels

    # layers ------------------------------------------------------------------------------------
    @staticmethod
    def conv(x, w, stride=1):
        import jax

        return jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def norm_relu(self, x, p, s, name, train):
        import jax
        import jax.numpy as jnp

        if self.bn:
            if train:
                mean, var = jnp.mean(x, axis=(0, 1, 2)), jnp.var(x, axis=(0, 1, 2))
                s[name] = (BN_MOMENTUM * s[name][0] + (1 - BN_MOMENTUM) * mean,
                           BN_MOMENTUM * s[name][1] + (1 - BN_MOMENTUM) * var)
            else:
                mean, var = s[name]
            g, b = p[name + "/bn"]
            x = (x - mean) * jax.lax.rsqrt(var + BN_EPS) * g + b
        return jax.nn.relu(x)

    @staticmethod
    def max_pool(x):
        import jax
        import jax.numpy as jnp

        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")

    # architecture -------------------------------------------------------------------------------
    def layout(self):
        """[(name, kind, c_in, c_out, stride)] in order, and the penultimate width."""
        k, out = self.k, []
        if self.family == "cnn5":
            c = self.c_in
            for i, mult in enumerate((1, 2, 4, 8), start=1):
                out.append((f"conv{i}", "conv3b", c, mult * k, 1))
                c = mult * k
            return out, c
        out.append(("stem", "conv3", self.c_in, k, 1))
        c = k
        for s, (width, stride) in enumerate(((k, 1), (2 * k, 2), (4 * k, 2), (8 * k, 2)), start=1):
            for b in (1, 2):
                st = stride if b == 1 else 1
                name = f"s{s}b{b}"
                if st != 1 or c != width:
                    out.append((name + "/short", "conv1", c, width, st))
                out.append((name + "/conv1", "conv3", c, width, st))
                out.append((name + "/conv2", "conv3", width, width, 1))
                c = width
        return out, c

    def init(self, key):
        import jax
        import jax.numpy as jnp

        layers, c_last = self.layout()
        keys = jax.random.split(key, len(layers) + 1)
        params, stats = {}, {}
        bn_channels = []
        for (name, kind, ci, co, _), kk in zip(layers, keys):
            ks = 1 if kind == "conv1" else 3
            params[name] = _he(kk, (ks, ks, ci, co), ks * ks * ci)
            if kind == "conv3b":
                params[name + "/bias"] = jnp.zeros((co,))
                bn_channels.append((name, co))
        if self.family == "resnet18k":
            c = self.k
            for s, width in enumerate((self.k, 2 * self.k, 4 * self.k, 8 * self.k), start=1):
                for b in (1, 2):
                    bn_channels += [(f"s{s}b{b}/pre", c), (f"s{s}b{b}/mid", width)]
                    c = width
            bn_channels.append(("final", c))
        if self.bn:
            for name, ch in bn_channels:
                params[name + "/bn"] = (jnp.ones((ch,)), jnp.zeros((ch,)))
                stats[name] = (jnp.zeros((ch,)), jnp.ones((ch,)))
        lim = math.sqrt(6.0 / (c_last + self.classes))  # glorot uniform head, zero bias (Keras' Dense default)
        params["head"] = (jax.random.uniform(keys[-1], (c_last, self.classes), minval=-lim, maxval=lim),
                          jnp.zeros((self.classes,)))
        return params, stats

    def count(self) -> int:
        import jax

        params, _ = self.init(jax.random.PRNGKey(0))
        return int(sum(v.size for v in jax.tree.leaves(params)))

    def apply(self, params, stats, x, train=True):
        import jax.numpy as jnp

        s = dict(stats)
        if self.family == "cnn5":
            for i in range(1, 5):
                x = self.conv(x, params[f"conv{i}"]) + params[f"conv{i}/bias"]
                x = self.norm_relu(x, params, s, f"conv{i}", train)
                if i > 1:
                    x = self.max_pool(x)
            h = jnp.max(x, axis=(1, 2))
        else:
            x = self.conv(x, params["stem"])
            c = self.k
            for si, (width, stride) in enumerate(((self.k, 1), (2 * self.k, 2), (4 * self.k, 2), (8 * self.k, 2)), 1):
                for b in (1, 2):
                    st, name = (stride if b == 1 else 1), f"s{si}b{b}"
                    out = self.norm_relu(x, params, s, name + "/pre", train)
                    short = self.conv(out, params[name + "/short"], st) if (st != 1 or c != width) else x
                    y = self.conv(out, params[name + "/conv1"], st)
                    y = self.norm_relu(y, params, s, name + "/mid", train)
                    x = short + self.conv(y, params[name + "/conv2"])
                    c = width
            x = self.norm_relu(x, params, s, "final", train)
            h = jnp.mean(x, axis=(1, 2))
        w, b = params["head"]
        return h @ w + b, s


def handwritten_jax(net: HandwrittenNet, seeds: int, epochs: int, x: np.ndarray, y: np.ndarray,
                    vmap_seeds: bool) -> dict[str, float]:
    """Adam on ``net``: one jitted ``lax.scan`` per epoch over ``n // BATCH`` batches of a seeded permutation."""
    import jax
    import jax.numpy as jnp

    n = len(x)
    steps = n // BATCH

    def loss(params, stats, xb, yb):
        logits, new_stats = net.apply(params, stats, xb)
        ce = jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, yb[:, None], 1)[:, 0]
        return jnp.mean(ce), new_stats

    def epoch(state, key, xs, ys):
        perm = jax.random.permutation(key, n)[: steps * BATCH].reshape(steps, BATCH)

        def step(carry, idx):
            params, stats, m, v, t = carry
            (_, stats), g = jax.value_and_grad(loss, has_aux=True)(params, stats, xs[idx], ys[idx])
            t = t + 1
            m = jax.tree.map(lambda a, b: BETA1 * a + (1 - BETA1) * b, m, g)
            v = jax.tree.map(lambda a, b: BETA2 * a + (1 - BETA2) * b * b, v, g)
            lr_t = LR * jnp.sqrt(1 - BETA2**t) / (1 - BETA1**t)
            params = jax.tree.map(lambda p, a, b: p - lr_t * a / (jnp.sqrt(b) + ADAM_EPS), params, m, v)
            return (params, stats, m, v, t), None

        state, _ = jax.lax.scan(step, state, perm)
        return state

    def start(seed):
        params, stats = net.init(jax.random.PRNGKey(seed))
        zeros = jax.tree.map(jnp.zeros_like, params)
        return (params, stats, zeros, zeros, jnp.zeros((), jnp.float32)), jax.random.split(jax.random.PRNGKey(1000 + seed), epochs)

    from sweep_throughput import time_seed_runs

    xs, ys = jax.device_put(x), jax.device_put(y.astype(np.int32))
    first, steady = time_seed_runs(epoch, [start(s) for s in range(seeds)], epochs, xs, ys, vmap_seeds)
    return {"first": first, "steady": steady}


# --------------------------------------------------------------------------- (a), (c) through ddbench


def synthetic_cifar(n: int):
    from ddbench.data import TrainData

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, n)
    return TrainData(x, y, y, np.zeros(n, bool), x[:BATCH], y[:BATCH], 10, 0.0, "exact", 0)


def conv_spec(family: str, k: int, batch_norm: bool, epochs: int, seeds: int):
    from ddbench.spec.model import Spec

    return Spec.model_validate({
        "name": "conv-sweep",
        "dataset": {"name": "mnist1d"},  # planning only: the trainers get the synthetic images below
        "model": {"family": family, "config": {"batch_norm": batch_norm}, "widths": [k]},
        "training": {"optimizer": {"name": "adam", "lr": LR}, "batch_size": BATCH, "epochs": epochs,
                     "record": {"schedule": "final"}},
        "seeds": list(range(seeds)),
    })


def ddbench_trainer(name: str, spec, data) -> dict[str, float]:
    from ddbench.plan import make_bundles, plan_cells
    from ddbench.train import get_trainer
    from ddbench.train.base import NullEvents

    trainer = get_trainer(name)
    out = {"train": 0.0, "compile": 0.0, "lanes": 0}
    t0 = time.perf_counter()
    for bundle in make_bundles(plan_cells(spec)):
        for cell in trainer.train(bundle, data, spec.training, NullEvents()):
            if cell.status != "done":
                raise RuntimeError(f"{name}: {cell.cell.label} {cell.status}: {cell.error}")
            out["train"] += cell.timings.get("train_seconds", 0.0)
            out["compile"] += cell.timings.get("compile_seconds", 0.0)
            out["lanes"] = max(out["lanes"], int(cell.timings.get("lanes", 1)))
    out["wall"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- main


def measure(family: str, k: int, batch_norm: bool, seeds: int, steps: int, epochs: int) -> dict[str, float]:
    """images/s of (a), (b), (b'), (c) for one (family, k, BN) with ``seeds`` models; ``epochs`` includes the first."""
    from ddbench import registry

    n = steps * BATCH
    data = synthetic_cifar(n)
    net = HandwrittenNet(family, k, batch_norm)
    fam = registry.families.get(family)()
    expected = fam.param_count(fam.Config(batch_norm=batch_norm), k, (32, 32, 3), 10)
    if net.count() != expected:
        raise AssertionError(f"hand-written {family} k={k} has {net.count()} parameters, ddbench's {expected}")
    images = seeds * n
    a = ddbench_trainer("fit", conv_spec(family, k, batch_norm, epochs, seeds), data)
    b = handwritten_jax(net, seeds, epochs, data.x_train, data.y_train, vmap_seeds=False)
    bv = handwritten_jax(net, seeds, epochs, data.x_train, data.y_train, vmap_seeds=True) if seeds > 1 else None
    c = ddbench_trainer("stateless", conv_spec(family, k, batch_norm, epochs, seeds), data)
    steady = epochs - 1
    return {
        "a": images * epochs / a["wall"],
        "b": images * steady / b["steady"],
        "bv": images * steady / bv["steady"] if bv else float("nan"),
        "c": images * steady / max(c["train"] - c["compile"], 1e-9),
        "c_wall": images * epochs / c["wall"], "lanes": c["lanes"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="cnn5 k 1..64, resnet18k k 1..16, 1 and 3 seeds, 20 batches")
    mode.add_argument("--smoke", action="store_true", help="k = 1 of each family, BN only, 1 batch, 1 seed (CI)")
    ap.add_argument("--seeds", type=int, nargs="+", help="seed counts (default: 1 3 full, 3 CPU, 1 smoke)")
    ap.add_argument("--steps", type=int, help="batches of 128 per epoch (default: 20 full, 2 CPU, 1 smoke)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per engine, the first one untimed (default 3)")
    ap.add_argument("--budget", type=float, help="skip a k whose predicted (a) time, cost ~ k^2 from the previous k, "
                    "exceeds this many seconds (default: 120 CPU, none --full)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)

    size = "full" if args.full else "smoke" if args.smoke else "cpu"
    seed_counts = args.seeds or {"full": [1, 3], "cpu": [3], "smoke": [1]}[size]
    steps = args.steps or {"full": 20, "cpu": 2, "smoke": 1}[size]
    budget = args.budget or (float("inf") if args.full else 120.0)
    bn_modes = (True,) if args.smoke else (True, False)
    epochs = max(2, args.epochs)

    from sweep_throughput import NAKKIRAN, projected_hours

    from ddbench import backend

    backend.select(None)
    if backend.name() != "jax":
        print(f"note: running under KERAS_BACKEND={backend.name()}; (b) and (c) are meant for jax")
    print(f"ddbench conv sweep  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"backend {backend.name()}, device {backend.device()}, versions {backend.versions()}")
    print(f"CIFAR-shaped synthetic 32x32x3, batch {BATCH}, {steps} batches/epoch, {epochs} epochs per engine "
          f"(first untimed for b, c), Adam lr {LR}; images/s = training images of all seeds per second")
    header = f"{'family':9s} {'BN':3s} {'k':>3s} {'seeds':>5s} | {'(a) fit':>9s} {'(b) jax':>9s} {'(bv) vmap':>9s} " \
             f"{'(c) ours':>9s} | {'c/a':>6s} {'c/b':>6s} {'c/bv':>6s}  lanes"
    resnet: dict[int, float] = {}
    for n_seeds in seed_counts:
        print(f"\nseeds={n_seeds}\n{header}\n{'-' * len(header)}")
        for family, ks in SIZES[size].items():
            for bn in bn_modes:
                prev: tuple[int, float] | None = None
                for k in ks:
                    if prev is not None:
                        predicted = epochs * n_seeds * steps * BATCH * (k / prev[0]) ** 2 / prev[1]
                        if predicted > budget:
                            print(f"{family:9s} {'yes' if bn else 'no':3s} {k:3d} {n_seeds:5d} | skipped: (a) predicted "
                                  f"~{predicted:,.0f}s (cost ~ k^2 from k={prev[0]}; --budget {budget:g})")
                            break
                    try:
                        r = measure(family, k, bn, n_seeds, steps, epochs)
                    except Exception as exc:  # out of memory, say: report and go on
                        print(f"{family:9s} {'yes' if bn else 'no':3s} {k:3d} {n_seeds:5d} | failed: "
                              f"{type(exc).__name__}: {str(exc)[:160]}")
                        break
                    prev = (k, r["a"])
                    if family == "resnet18k" and bn and n_seeds == seed_counts[0]:
                        resnet[k] = r["c"] / n_seeds  # one model's images/s
                    print(f"{family:9s} {'yes' if bn else 'no':3s} {k:3d} {n_seeds:5d} | {r['a']:9.1f} {r['b']:9.1f} "
                          f"{r['bv']:9.1f} {r['c']:9.1f} | {r['c'] / r['a']:6.2f} {r['c'] / r['b']:6.2f} "
                          f"{r['c'] / r['bv']:6.2f}  {r['lanes']}")
    if resnet:
        hours = projected_hours(resnet)
        print(f"\nprojected Nakkiran ResNet18 sweep (k=1..64, {NAKKIRAN['epochs']} epochs x {NAKKIRAN['n']} images, "
              f"BN, one model at a time through the engine, images/s interpolated log-log from measured k="
              f"{sorted(resnet)}): {hours:,.0f} hours ({hours / 24:,.1f} days) on this device")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
