"""Mutual TLS for one run: a certificate authority made for the run, a certificate for each
party (the home and every agent), and the ssl contexts that use them.

Every party serves HTTPS and calls its peers with its own certificate: a server requires a
client certificate signed by the run's CA (ssl.CERT_REQUIRED), and a client checks that the
server's certificate is signed by the same CA and names the address it dialled (an IP SAN,
or a DNS SAN for a Kubernetes Service). A party of another run, or one without a
certificate, fails the handshake before any HTTP is spoken. The run token stays on every
request as a second factor.

Keys are ECDSA P-256: cheap to make (one per agent per run) and as strong as the AES-GCM
the handshake then settles on. The CA lives as long as its run; nothing is kept.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, ConfigDict

from jupiter.errors import RunError

# A run's certificates outlive any run; a clock a little behind the home's is tolerated.
VALIDITY = datetime.timedelta(days=30)
CLOCK_SKEW = datetime.timedelta(hours=1)

CA_FILE = "ca.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


class TlsError(RunError):
    """A certificate that does not belong to the run, or files that cannot be used."""


class TlsFiles(BaseModel):
    """Where one party's PEM files are: the run CA's certificate, its own certificate, its
    private key. Carried in an agent's config (paths only, never key material)."""

    model_config = ConfigDict(extra="forbid")

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_folder(cls, folder: Path) -> TlsFiles:
        return cls(ca=folder / CA_FILE, cert=folder / CERT_FILE, key=folder / KEY_FILE)

    def server_context(self) -> ssl.SSLContext:
        """For a server: its own certificate, and every client must show one of the run."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        self._load_own(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """For a client: it shows its certificate, and trusts only the run's CA, for the
        name or address it dialled."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_own(context)
        return context

    def _load_own(self, context: ssl.SSLContext) -> None:
        try:
            context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as error:
            raise TlsError(f"cannot load the TLS certificate {self.cert}: {error}") from None


@dataclass(frozen=True)
class Credentials:
    """One party's PEMs, in memory: the run CA's certificate, its own, its private key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def write(self, folder: Path) -> TlsFiles:
        """Into `folder` (made private), each file readable by this user only."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        files = TlsFiles.in_folder(folder)
        for path, data in ((files.ca, self.ca_pem), (files.cert, self.cert_pem)):
            _write_private(path, data)
        _write_private(files.key, self.key_pem)
        return files


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """A SAN for each host: an IP address as an IP SAN, anything else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip("[]") for h in hosts if h):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def url_host(url: str) -> str:
    """The host part of `scheme://host:port/...` (brackets of an IPv6 address removed)."""
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        return rest[1 : rest.index("]")]
    return rest.rpartition(":")[0] or rest


class RunCA:
    """The run's certificate authority: made by the home, it signs every party's
    certificate. Its key never leaves the home's memory."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self.cert = cert

    @classmethod
    def new(cls, run_id: str) -> RunCA:
        key = _new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"jupiter run {run_id} CA")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def ca_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, name: str, hosts: Iterable[str]) -> Credentials:
        """A new key and its certificate for party `name`, reachable at `hosts`."""
        key = _new_key()
        cert = self._sign(key.public_key(), name, hosts)
        return Credentials(self.ca_pem, cert, _key_pem(key))

    def sign_request(self, csr_pem: bytes, name: str, hosts: Iterable[str]) -> bytes:
        """A certificate for the key in a signing request made elsewhere (a hand-started
        agent keeps its key). Only the request's key is used: the name and addresses are
        the ones the home knows the party by, whatever the request asked for."""
        try:
            request = x509.load_pem_x509_csr(csr_pem)
        except ValueError as error:
            raise TlsError(f"{name}: not a certificate signing request: {error}") from None
        if not request.is_signature_valid:
            raise TlsError(f"{name}: the signing request's signature is not valid")
        public = request.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise TlsError(f"{name}: the signing request's key is not an EC key")
        return self._sign(public, name, hosts)

    def _sign(self, public: ec.EllipticCurvePublicKey, name: str, hosts: Iterable[str]) -> bytes:
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])]))
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # Every party is a server to some peers and a client of others.
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class SigningRequest:
    """A key made where it will be used, and the request that asks the home to certify it."""

    key_pem: bytes
    csr_pem: bytes

    @classmethod
    def new(cls, name: str) -> SigningRequest:
        key = _new_key()
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])]))
            .sign(key, hashes.SHA256())
        )
        return cls(_key_pem(key), csr.public_bytes(serialization.Encoding.PEM))

    def accept(self, cert_pem: bytes, ca_pem: bytes) -> Credentials:
        """The credentials, once `cert_pem` is shown to certify this key and to be signed
        by the CA `ca_pem`."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            ca = x509.load_pem_x509_certificate(ca_pem)
            key = serialization.load_pem_private_key(self.key_pem, None)
            ca_key = ca.public_key()
            if not isinstance(ca_key, ec.EllipticCurvePublicKey):
                raise TlsError("the run CA's key is not an EC key")
            signature_hash = cert.signature_hash_algorithm
            if signature_hash is None:
                raise TlsError("the certificate names no signature hash")
            ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(signature_hash))
        except (ValueError, InvalidSignature) as error:
            raise TlsError(f"the certificate is not the run CA's: {error}") from None
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            raise TlsError("the certificate is for another key")
        return Credentials(ca_pem, cert_pem, self.key_pem)


@dataclass(frozen=True)
class RunTls:
    """The home's side of a run's TLS: its own files, and the CA when the home certifies
    the agents itself (None on Kubernetes, where every certificate was issued at render and
    reaches each pod in a Secret)."""

    home: TlsFiles
    ca: RunCA | None

    @classmethod
    def new(cls, run_id: str, folder: Path, home_hosts: Iterable[str]) -> RunTls:
        """A CA for the run and the home's certificate for `home_hosts`, written in `folder`."""
        ca = RunCA.new(run_id)
        return cls(ca.issue("home", home_hosts).write(folder), ca)

    def issuer(self) -> RunCA:
        if self.ca is None:
            raise TlsError("this home holds no CA: its agents' certificates come with them")
        return self.ca


def scheme(tls: object | None) -> str:
    """The URL scheme of a party that serves with `tls` (None: plain HTTP)."""
    return "https" if tls is not None else "http"
