"""Packaging that pyproject.toml cannot say: the shipped recipes and the published leaderboards are
package data, read from where they live in the repository (one copy).

``specs/*.yaml`` is the package ``ddbench.recipes`` and ``leaderboards/*.json`` the package
``ddbench.published`` (data only, no ``__init__.py``), in the wheel and in an editable install
alike; ``ddbench.catalog`` reads them with ``importlib.resources``.
"""

from setuptools import find_packages, setup

DATA = {"ddbench.recipes": ("specs", "*.yaml"), "ddbench.published": ("leaderboards", "*.json")}

setup(
    packages=find_packages(include=["ddbench", "ddbench.*"]) + list(DATA),
    package_dir={name: where for name, (where, _) in DATA.items()},
    # and the throughput figures a benchmark measured (ddbench.engine.throughput; absent until one is recorded)
    package_data={**{name: [glob] for name, (_, glob) in DATA.items()}, "ddbench.engine": ["throughput.json"]},
)
