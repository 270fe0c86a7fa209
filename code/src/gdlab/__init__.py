"""gdlab: the shared code of the book *Gradient descent at large step sizes*."""
__version__ = "0.1.0"
