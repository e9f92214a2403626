"""The customer hotline: its tickets' state transitions and permission table (writes), and
how they are read (reads)."""
