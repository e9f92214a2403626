"""The exchange centre: business documents reach each partner's system by its registered
address, in its own format, and documents from partners come in the same way.

- addresses: the address book (a partner's transport, format and credentials per
  document type), kept by staff and by each partner for itself
- documents: every document sent or received, its life (pending, sent, acknowledged,
  failed, dead; accepted, refused) with each attempt, archived as it went
- mapping: a partner's CSV or XLSX layout, defined as data, read into typed rows and
  written from them (plan files are one use of it)
"""
