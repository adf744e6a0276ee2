"""The recipes ddbench ships: this directory is the package data ``ddbench.recipes`` (setup.py maps
it, so a wheel and an editable install read these files with importlib.resources), and
``ddbench run NAME`` runs ``NAME.yaml`` from it (``ddbench list recipes``)."""
