"""Service quality: satisfaction surveys (``surveys``: sent when a dispute completes, an
urge is resolved and each quarter; answered by the customer's contacts; results and
their trend for the mill), each customer's contribution and the tiers ranked from it
(``contribution``), and the tiers' rule and service levels (``tiers``), which the
hotline and disputes read. The permission table is in ``model``."""
