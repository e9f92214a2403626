"""The exchange centre: business documents reach each partner's system by its registered
address, in its own format, and documents from partners come in the same way.

- addresses: the address book (a partner's transport, format and credentials per
  document type), kept by staff and by each partner for itself
- documents: every document sent or received, its life (pending, sent, acknowledged,
  failed, dead; accepted, refused) with each attempt, archived as it went
- messages: the business documents themselves, free of any format
- edifact: UN/EDIFACT D.96A interchanges of them, written and read, and the CONTRL
  answering one
- jsonfmt: the platform's own JSON of each, and the certificate's EN 10168 JSON
- sscc: the SSCC that names each coil as a logistic unit, with the scan its label gives
- mapping: a partner's CSV or XLSX layout, defined as data, read into typed rows and
  written from them (plan files are one use of it)
"""
