"""The customer hotline: its tickets' state transitions and permission table (writes), how
they are read (reads), and who hears of an unanswered urge (escalation)."""
