"""Answers being written, beyond one request: at most one per thread, saved while they grow,
cancelled when nobody watches, marked interrupted after a crash.
"""
