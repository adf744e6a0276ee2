"""The tensorflow backend of ddbench (see :mod:`ddbench.backend`)."""
