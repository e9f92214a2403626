"""Contracts, their lines and each line's production progress."""
