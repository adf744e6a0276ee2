"""The jax backend of ddbench (see :mod:`ddbench.backend`)."""
