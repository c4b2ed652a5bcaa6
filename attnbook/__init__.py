"""attnbook: a transparent NumPy transformer and the figures of an interactive book about attention."""

__version__ = "0.1.0"
