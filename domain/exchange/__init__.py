"""The exchange centre's documents, turned into bytes and back, with no database or
network: the business documents themselves, free of any format (messages); UN/EDIFACT
D.96A interchanges of them, written and read, and the CONTRL answering one (edifact);
Keylink's own JSON of each, and the certificate's EN 10168 JSON (jsonfmt); and the SSCC
that names each coil as a logistic unit, with the scan its label gives (sscc).
"""
