"""Helpers of bench/load.py (the agent side of the load bench)."""
