"""Experiments behind the book's chapters: defined and run through the run cache, returning arrays for figures."""
