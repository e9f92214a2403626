"""Document transports of the exchange centre: HTTPS, SFTP and AS2 (``base`` is the
interface)."""
