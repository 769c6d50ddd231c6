"""rayqe: blind, degradation-aware, early-terminating quality enhancement of compressed video on Ray."""

__version__ = "0.1.0"
