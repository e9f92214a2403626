"""Settlements: what a contract comes to, exact to the cent (reads), drawing one up and
moving its invoice, with the permission table beside those transitions (writes), and the
agreed claims deducted on one in the caller's transaction (deductions)."""
