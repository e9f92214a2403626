"""Heats, slabs, coils, their genealogy and quality records."""
