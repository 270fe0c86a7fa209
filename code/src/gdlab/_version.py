"""The single source of gdlab's version (read by ``code/pyproject.toml`` and ``gdlab.__version__``)."""

__version__ = "0.1.0"
