"""Quality records of coils: the records and who may write them (model), how they are
read (reads), issuing certificates and recording feedback (writes), and a certificate's
canonical content and hash (certificates).
"""
