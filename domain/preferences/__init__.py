"""Each key customer's own way of working: its default delivery site, units, language,
time zone and currency, the transport it prefers to each of its delivery sites, and
from these the defaults of a new contract or plan line (model, reads, writes); and each
user's saved views (views).
"""
