"""The exchange centre: documents exchanged with partners, as EDI or as the spreadsheets of
partners without it. `mapping`: a partner's CSV or XLSX layout, defined as data, read into
typed rows and written from them."""
