"""edgec: a code-generating compiler for language models on edge devices."""

__version__ = "0.1.0"
