"""Video I/O: readers for reference footage, probing, decoding, encoding, QP-controlled compression."""
