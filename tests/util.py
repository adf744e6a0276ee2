"""Tiny specs for tests: a few widths, a few epochs, a few hundred points."""

import textwrap

TINY = """
name: tiny
dataset:
  name: mnist1d
  n_train: 300
  n_test: 500
  noise: {{rates: {rates}, kind: exact}}
model:
  family: {family}
  widths: {widths}
training:
  optimizer: {{name: sgd, lr: {lr}, momentum: 0.9}}
  batch_size: 50
  epochs: {epochs}
  record: {{schedule: log, num: 3}}
probes: [weight_norm]
hypotheses: [double_descent]
analysis: {{bootstrap: 200}}
"""


def tiny_spec_text(rates="[0.0, 0.2]", widths="[2, 8, 32]", epochs=3, lr=0.05, family="mlp", **extra: str) -> str:
    text = TINY.format(rates=rates, widths=widths, epochs=epochs, lr=lr, family=family)
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    return textwrap.dedent(text)


