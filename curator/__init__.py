"""curator: a workbench for curating alignment-training data."""

__version__ = "0.1.0"
