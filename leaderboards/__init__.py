"""The published leaderboards: this directory is the package data ``ddbench.published`` (setup.py
maps its ``*.json``, so a wheel and an editable install read them with importlib.resources), and
``ddbench leaderboard show|compare|summary NAME`` reads ``NAME.json`` from it."""
