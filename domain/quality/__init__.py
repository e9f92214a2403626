"""Quality records of coils: the records and who may write them (model), how they are
read (reads), issuing certificates, setting a spec's limits and recording feedback
(writes), a certificate's canonical content and hash (certificates), and a spec's limits
with the check of certified values against them (limits).
"""
