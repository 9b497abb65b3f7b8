"""Evaluation: probes, retrieval, and (later) the separation metrics."""
