"""The text of a generated plugin package: one module per kind (its plugin, its test, how it is used)
and :mod:`.common` (pyproject, README, the conformance test of the four spec kinds).

Placeholders are ``__UPPER_CASE__`` words, filled by :func:`ddbench.scaffold.package.render`.
"""
