"""Quality disputes, 8D-aligned: their state transitions with the roles on each (writes),
how they are read (reads), the claims and evidence attached to them and the containment
of the coils they name."""
