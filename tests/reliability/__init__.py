"""Reliability proofs: faults, crashes, replay window, restarts (end to end)."""
