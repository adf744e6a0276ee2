"""Why vmapped conv lanes drifted from ``fit``, reduced to plain JAX.

Known answers, on a CPU (XLA:CPU), with one 1-D convolution and its kernel gradient:

* the reproduction (upstream): the same gradient computed as a program of its own (what Keras
  ``fit`` runs per batch), inside a ``lax.scan`` (the engine's epoch) and under ``vmap`` (the
  engine's lanes, a grouped convolution) agrees to float32 round-off but not bit for bit: XLA
  lowers the kernel gradient differently in each (on the top level it transposes the operands
  for Eigen's convolution; in a while body or for a grouped convolution it emits its own loops);
* the mechanism: a max pool's gradient goes wholly to the larger of two inputs, so one ulp of
  round-off at a near tie moves it, and the trajectories separate for good (measured on a cnn5
  with BatchNorm: 1.2e-7 of round-off became 1e-4 in one step);
* the exact path the JAX engine falls back to is therefore each lane's step as a program of its own,
  called per batch, as ``fit`` runs it (``ddbench/backend/jax/engine.py``); that it trains every
  lane bit for bit like ``fit`` is tested in ``tests/test_lanes.py`` and ``tests/test_conv_engine.py``.

If XLA one day compiles the three alike, the reproduction skips (and the engine's check keeps
such bundles on the compiled path by itself).
"""

from __future__ import annotations

import textwrap

import pytest
from util import run_script

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import jax, jax.numpy as jnp
    from jax import lax

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 50, 40, 2)).astype("float32"))  # (lanes, batch, length, channels)
    w = jnp.asarray(rng.normal(size=(2, 3, 2, 4)).astype("float32"))  # (lanes, kernel, in, out)

    def loss(w, x):
        y = lax.conv_general_dilated(x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))
        return jnp.sum(jnp.sin(y))

    grad = jax.grad(loss)
    top = [np.asarray(jax.jit(grad)(w[j], x[j])) for j in range(2)]  # one program per lane, as fit runs it

    def in_scan(w, x):  # the engine's epoch: the step as a while-loop body
        return lax.scan(lambda c, _: (c, grad(w, x)), 0, None, length=2)[1][0]

    scanned = [np.asarray(jax.jit(in_scan)(w[j], x[j])) for j in range(2)]
    vmapped = np.asarray(jax.jit(jax.vmap(grad))(w, x))

    def gap(a, b):
        return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))

    # a max pool at a near tie: one ulp decides where the whole gradient goes
    a = jnp.float32(1.0)
    pool = jax.grad(lambda v: jnp.max(v))
    tie = [np.asarray(pool(jnp.stack([a, jnp.nextafter(a, 2.0)]))).tolist(),
           np.asarray(pool(jnp.stack([jnp.nextafter(a, 2.0), a]))).tolist()]
    print("RESULT" + json.dumps({
        "platform": jax.devices()[0].platform,
        "scan": [gap(s, t) for s, t in zip(scanned, top)],
        "vmap": [gap(vmapped[j], top[j]) for j in range(2)],
        "tie": tie}))
""")


def test_conv_kernel_gradient_rounds_differently_in_scan_and_under_vmap():
    out = run_script(SCRIPT, {"KERAS_BACKEND": "jax"})
    # the mechanism: one ulp moves the whole gradient of a max
    assert out["tie"] == [[0.0, 1.0], [1.0, 0.0]]
    # scanned and vmapped gradients are right to float32 round-off...
    for gap in out["scan"] + out["vmap"]:
        assert gap < 1e-5, out
    # ...and the reproduction: not bit for bit (XLA:CPU's lowering; seen with jax 0.10.2)
    if out["platform"] != "cpu" or max(out["scan"] + out["vmap"]) == 0.0:
        pytest.skip(f"no rounding difference to reproduce here ({out}); the engine's check then keeps the compiled path")
    assert min(out["scan"]) > 0.0 and min(out["vmap"]) > 0.0, out
