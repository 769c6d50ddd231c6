"""Restoration methods by name: what `rayqe evaluate --method M` and the pipeline run on decoded frames.

A method takes a sequence of decoded frames (one clip, or one chunk with its temporal margins) and returns
the same number of enhanced frames, plus the stages each frame used when the method has stages.
"""
