"""Optional reference implementations that check the NumPy code; they need extra packages (PyTorch) and are never
imported by the rest of :mod:`attnbook`."""
