"""The mill's capacity per production stage and week, and what can still be promised.

``model`` (the records and who may set capacity), ``reads`` (capacity against the load
confirmed contracts already book), ``writes`` (setting capacity), ``atp`` (the pure check
of an order's plan against what is left), ``feasibility`` (the check of a contract's
lines when they are confirmed), ``credit`` (the customer's credit headroom as the
enquiry reads it), ``enquiry`` (the order enquiry answered in one call).
"""
