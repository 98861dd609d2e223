"""proxybench: which cheap proxy ranks NAS architectures like their true accuracy."""

__version__ = "0.1.0"
