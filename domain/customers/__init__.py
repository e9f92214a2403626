"""Customers as the mill's sales and finance see them: the records, the approval's states
and the permission table (model), each customer's credit figures and the hold on a
confirmation beyond its headroom (credit), the payments received against its invoices
(payments), the customer's overview in one read of grouped figures (reads), and what
finance sets and decides (writes)."""
