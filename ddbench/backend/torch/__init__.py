"""The torch backend of ddbench (see :mod:`ddbench.backend`)."""
