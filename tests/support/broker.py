"""The production broker config (config/mosquitto.conf) run for a test.

The shipped file is copied with only its paths and its port changed: the listener on a
free loopback port, the certificate and key made here by a test CA, the state directory,
the dynamic-security plugin where this machine has it and the access file the test
wrote with `keylink devices mosquitto-dynsec`. Every security directive stays as shipped
(a test compares the two files).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.embedded import LOCALHOST, Mosquitto
from settings import PROJECT_ROOT

PRODUCTION_CONFIG = PROJECT_ROOT / "config" / "mosquitto.conf"
# What a copy may change: where files are and where it listens.
PATH_DIRECTIVES = frozenset({"certfile", "keyfile", "persistence_location", "plugin",
                             "plugin_opt_config_file"})
PLUGIN_NAME = "mosquitto_dynamic_security.so"


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path, host: str = LOCALHOST) -> Tls:
    """A CA and a server certificate it signed, for ``host`` (an IP address)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Keylink test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True,
              crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = Tls(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


def dynsec_plugin() -> Path:
    """Where this machine's Mosquitto keeps its dynamic-security plugin."""
    for root in (Path("/usr/lib"), Path("/usr/local/lib")):
        found = sorted(root.glob(PLUGIN_NAME)) + sorted(root.glob(f"*/{PLUGIN_NAME}"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no {PLUGIN_NAME} under /usr/lib or /usr/local/lib; "
                            "it comes with the mosquitto package")


def directives(text: str) -> list[tuple[str, str]]:
    """(name, value) of each directive of a Mosquitto config, in order."""
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.strip().partition(" ")
            pairs.append((name, value.strip()))
    return pairs


def adapted_config(directory: Path, port: int, tls: Tls, access: Path) -> str:
    """The production config with this test's paths and port."""
    paths = {"certfile": str(tls.cert), "keyfile": str(tls.key),
             "persistence_location": f"{directory}/", "plugin": str(dynsec_plugin()),
             "plugin_opt_config_file": str(access)}
    lines = []
    for line in PRODUCTION_CONFIG.read_text().splitlines():
        name = line.partition(" ")[0]
        if not line.startswith("#") and name in paths:
            line = f"{name} {paths[name]}"
        elif name == "listener":
            line = re.sub(r"^listener \d+$", f"listener {port} {LOCALHOST}", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def production_broker(directory: Path, port: int, tls: Tls, access: Path) -> Mosquitto:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "production.conf"
    config.write_text(adapted_config(directory / "state", port, tls, access))
    (directory / "state").mkdir(exist_ok=True)
    return Mosquitto(directory, port, config=config, complete=True)
