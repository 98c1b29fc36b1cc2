"""Secrets for a secured local stack: a private CA, a server certificate for loopback, and
NATS user nkeys. Keys are written 0600 in 0700 folders; nothing secret goes into a config file
(the NATS config holds only the user's public nkey).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> files = certificates(folder)
>>> sorted(p.name for p in files.values())
['ca.pem', 'server-key.pem', 'server.pem']
>>> oct(files["server_key"].stat().st_mode & 0o777)
'0o600'
>>> seed, public = user_nkey(folder / "user.nk")
>>> public.startswith("U") and seed.read_bytes().startswith(b"SU")
True
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

__all__ = ["certificates", "pkcs12_keystore", "secret", "server_keystore", "user_nkey", "write_private"]

_DAYS = 365


def secret(path: Path) -> str:
    """A random password kept in ``path`` (0600; made once, then read back)."""
    import secrets

    if not path.exists():
        write_private(path, secrets.token_urlsafe(24).encode())
    return path.read_text().strip()


def pkcs12_keystore(files: dict[str, Path], dest: Path, password: str) -> Path:
    """The server key and certificate of :func:`certificates` as a PKCS12 keystore (for Java servers)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = serialization.load_pem_private_key(files["server_key"].read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(files["server_cert"].read_bytes())
    ca = x509.load_pem_x509_certificate(files["ca"].read_bytes())
    data = pkcs12.serialize_key_and_certificates(b"server", key, cert, [ca],  # type: ignore[arg-type]
                                                 serialization.BestAvailableEncryption(password.encode()))
    write_private(dest, data)
    return dest


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only: 0600 from the first byte on, in a
    folder made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def server_keystore(home: Path) -> tuple[dict[str, Path], Path, str]:
    """For a Java server in ``home``: its certificates (:func:`certificates` in ``home/tls``), a
    PKCS12 keystore of them and the keystore's password (both under ``home/secrets``)."""
    tls = certificates(home / "tls")
    password = secret(home / "secrets" / "keystore-password")
    return tls, pkcs12_keystore(tls, home / "secrets" / "server.p12", password), password


def certificates(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for ``127.0.0.1`` and ``localhost`` in ``folder`` (made once,
    kept while they exist). Returns paths keyed ``ca``, ``server_cert``, ``server_key``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    files = {"ca": folder / "ca.pem", "server_cert": folder / "server.pem", "server_key": folder / "server-key.pem"}
    if all(p.exists() for p in files.values()):
        return files
    now = dt.datetime.now(dt.timezone.utc)

    def cert(subject: str, issuer: str, public_key: object, signer: object, *, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=_DAYS))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("rdg local CA", "rdg local CA", ca_key.public_key(), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = cert("localhost", "rdg local CA", server_key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    write_private(files["server_key"], server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    files["server_cert"].write_bytes(server_cert.public_bytes(pem))
    files["ca"].write_bytes(ca_cert.public_bytes(pem))
    return files


def user_nkey(seed_file: Path) -> tuple[Path, str]:
    """A NATS user nkey: its seed in ``seed_file`` (0600, made once) and its public key."""
    import nkeys

    if not seed_file.exists():
        write_private(seed_file, nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
    pair = nkeys.from_seed(bytearray(seed_file.read_bytes().strip()))
    return seed_file, pair.public_key.decode()
