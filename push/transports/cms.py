"""CMS (RFC 5652) as AS2 uses it: detached signatures, enveloped (encrypted) and
compressed data.

Signing and encrypting are ``cryptography``'s PKCS#7 builders (OpenSSL inside its
wheel). ``cryptography`` has no CMS verification or general decryption, so those parse
the structure with ``asn1crypto`` (pure Python, no native library) and check it with
``cryptography``'s primitives: a signature verifies only with the partner's pinned
certificate(s), never with one the message brings along.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from typing import Any

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

# Digests a signature or MIC may use, by asn1crypto's (and hashlib's) names. SHA-1 and
# MD5 are refused: a forged document or receipt must not be within reach.
DIGESTS: dict[str, type[hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512}
ENCRYPTIONS: dict[str, type[algorithms.AES128] | type[algorithms.AES256]] = {
    "aes-128-cbc": algorithms.AES128, "aes-256-cbc": algorithms.AES256}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CmsError(ValueError):
    """A CMS structure that does not check out; ``kind`` says how, in the words of an
    AS2 disposition: ``authentication-failed`` (not signed by the partner),
    ``integrity-check-failed`` (the content is not what was signed),
    ``decryption-failed``, ``unexpected-processing-error`` (malformed, unsupported)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def digest_name(text: str) -> str:
    """``sha-256``, ``SHA256``, ``sha256`` -> ``sha256``; CmsError for one not allowed."""
    name = text.strip().lower().replace("-", "")
    if name not in DIGESTS:
        raise CmsError("unexpected-processing-error", f"digest {text!r} is not accepted")
    return name


def micalg(name: str) -> str:
    """The RFC 5751 name of a digest: ``sha256`` -> ``sha-256``."""
    return "sha-" + name.removeprefix("sha")


def sign(data: bytes, key: PrivateKey, certificate: x509.Certificate, digest: str) -> bytes:
    """A detached signature (DER) of exactly ``data``, with the signer's certificate."""
    builder = (pkcs7.PKCS7SignatureBuilder().set_data(data)
               .add_signer(certificate, key, DIGESTS[digest]()))
    return builder.sign(serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def encrypt(data: bytes, recipient: x509.Certificate, encryption: str) -> bytes:
    """EnvelopedData (DER) of ``data`` for ``recipient``'s RSA key."""
    builder = (pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(recipient)
               .set_content_encryption_algorithm(ENCRYPTIONS[encryption]))
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def _content_info(der: bytes, expected: str) -> Any:
    try:
        info = asn1_cms.ContentInfo.load(der)
        kind = info["content_type"].native
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise CmsError("unexpected-processing-error", "not a CMS structure") from None
    if kind != expected:
        raise CmsError("unexpected-processing-error", f"CMS {kind}, not {expected}")
    return info["content"]


def _verify_with(public_key: object, signature: bytes, signed: bytes, algorithm: Any,
                 digest: str) -> None:
    """Raises InvalidSignature unless ``signature`` is ``public_key``'s over ``signed``."""
    kind = algorithm.signature_algo
    hash_ = DIGESTS[digest]()
    if isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
        public_key.verify(signature, signed, asym_padding.PKCS1v15(), hash_)
    elif isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pss":
        params = algorithm["parameters"]
        pss_hash = DIGESTS[digest_name(params["hash_algorithm"]["algorithm"].native)]()
        public_key.verify(signature, signed, asym_padding.PSS(
            asym_padding.MGF1(pss_hash), params["salt_length"].native), pss_hash)
    elif isinstance(public_key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
        public_key.verify(signature, signed, ec.ECDSA(hash_))
    else:
        raise InvalidSignature


def verify(data: bytes, signature_der: bytes, certificates: Sequence[x509.Certificate]
           ) -> str:
    """Check a detached signature over ``data`` against the pinned ``certificates``;
    returns the digest it used (``sha256``)."""
    signed_data = _content_info(signature_der, "signed_data")
    try:
        signers = list(signed_data["signer_infos"])
        if not signers:
            raise CmsError("authentication-failed", "a signature without a signer")
        for signer in signers:
            digest = digest_name(str(signer["digest_algorithm"]["algorithm"].native))
            attributes = signer["signed_attrs"]
            if len(attributes):
                found = {a["type"].native: a["values"][0].native for a in attributes}
                if found.get("message_digest") != hashlib.new(digest, data).digest():
                    raise CmsError("integrity-check-failed",
                                   "the content is not what was signed")
                # The attributes are signed as a SET OF, not with their [0] tag.
                signed = attributes.untag().dump()
            else:
                signed = data
            signature = signer["signature"].native
            for certificate in certificates:
                try:
                    _verify_with(certificate.public_key(), signature, signed,
                                 signer["signature_algorithm"], digest)
                except InvalidSignature:
                    continue
                return digest
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise CmsError("unexpected-processing-error", "a malformed signature") from None
    raise CmsError("authentication-failed",
                   "the signature is not by the partner's pinned certificate")


def _recipient_matches(rid: Any, certificate: x509.Certificate) -> bool:
    if rid.name == "issuer_and_serial_number":
        chosen = rid.chosen
        return bool(chosen["serial_number"].native == certificate.serial_number
                    and chosen["issuer"].dump() == certificate.issuer.public_bytes())
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return False
    return bool(rid.chosen.native == ski.value.digest)


def _unwrap_key(ktri: Any, key: rsa.RSAPrivateKey) -> bytes:
    algorithm = ktri["key_encryption_algorithm"]
    name = algorithm["algorithm"].native
    encrypted_key = ktri["encrypted_key"].native
    if name == "rsaes_pkcs1v15":
        return key.decrypt(encrypted_key, asym_padding.PKCS1v15())
    if name == "rsaes_oaep":
        params = algorithm["parameters"]
        oaep_hash = params["hash_algorithm"]["algorithm"].native
        hash_cls = {"sha1": hashes.SHA1, **DIGESTS}.get(oaep_hash)
        if hash_cls is None:
            raise CmsError("decryption-failed", f"OAEP with {oaep_hash}")
        return key.decrypt(encrypted_key, asym_padding.OAEP(
            asym_padding.MGF1(hash_cls()), hash_cls(), None))
    raise CmsError("decryption-failed", f"key encryption {name} is not supported")


def decrypt(der: bytes, key: PrivateKey, certificate: x509.Certificate) -> bytes:
    """The content of EnvelopedData encrypted to ``certificate`` (RSA key transport;
    AES-CBC, or triple DES which many AS2 stations still send)."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CmsError("decryption-failed", "this station's key cannot decrypt (not RSA)")
    enveloped = _content_info(der, "enveloped_data")
    try:
        recipients = [r.chosen for r in enveloped["recipient_infos"] if r.name == "ktri"]
        mine = [r for r in recipients if _recipient_matches(r["rid"], certificate)]
        if not mine:
            raise CmsError("decryption-failed", "not encrypted to this station's certificate")
        cek = _unwrap_key(mine[0], key)
        info = enveloped["encrypted_content_info"]
        algorithm = info["content_encryption_algorithm"]
        cipher_name = algorithm.encryption_cipher
        iv = algorithm.encryption_iv
        if cipher_name == "aes" and len(cek) == algorithm.key_length:
            cipher: algorithms.AES | TripleDES = algorithms.AES(cek)
        elif cipher_name == "tripledes" and len(cek) == 24:
            cipher = TripleDES(cek)
        else:
            raise CmsError("decryption-failed",
                           f"content encryption {algorithm['algorithm'].native} is not "
                           "supported (AES-CBC or triple DES)")
        ciphertext = info["encrypted_content"].native or b""
        decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(cipher.block_size).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise CmsError("decryption-failed", "the content does not decrypt") from None


def decompress(der: bytes, limit: int) -> bytes:
    """The content of CompressedData (RFC 3274, zlib), refused once it inflates past
    ``limit`` bytes (never inflated further)."""
    compressed = _content_info(der, "compressed_data")
    try:
        if compressed["compression_algorithm"]["algorithm"].native != "zlib":
            raise CmsError("unexpected-processing-error", "compression other than zlib")
        data = compressed["encap_content_info"]["content"].native or b""
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, limit + 1)
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, zlib.error):
        raise CmsError("unexpected-processing-error", "the content does not inflate") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise CmsError("unexpected-processing-error",
                       f"the content inflates past {limit} bytes")
    return out
