"""The run's CA (api/tls.py): what it certifies, and what a party accepts as its own."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from jupiter.api.tls import RunCA, SigningRequest, TlsError, url_host


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_a_party_is_certified_for_its_addresses_as_server_and_client() -> None:
    ca = RunCA.new("r1")
    issued = ca.issue("n00", ["127.0.0.2", "agent-n00.ns.svc", "[::1]"])
    cert = _cert(issued.cert_pem)
    cert.verify_directly_issued_by(_cert(issued.ca_pem))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.2"),
        ipaddress.ip_address("::1"),
    ]
    assert names.get_values_for_type(x509.DNSName) == ["agent-n00.ns.svc"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_written_credentials_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    files = RunCA.new("r1").issue("home", ["127.0.0.1"]).write(tmp_path / "tls")
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    for path in (files.ca, files.cert, files.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Both contexts load them.
    files.server_context()
    files.client_context()


def test_a_signing_request_is_certified_for_the_address_the_home_knows() -> None:
    ca = RunCA.new("r1")
    request = SigningRequest.new("pi0")
    assert b"PRIVATE KEY" not in request.csr_pem
    cert_pem = ca.sign_request(request.csr_pem, "pi0", ["10.0.0.7"])
    names = _cert(cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]
    credentials = request.accept(cert_pem, ca.ca_pem)
    assert credentials.key_pem == request.key_pem


def test_a_certificate_of_another_ca_or_for_another_key_is_refused() -> None:
    ca, other = RunCA.new("r1"), RunCA.new("r2")
    request = SigningRequest.new("pi0")
    foreign = other.sign_request(request.csr_pem, "pi0", ["10.0.0.7"])
    with pytest.raises(TlsError, match="not the run CA's"):
        request.accept(foreign, ca.ca_pem)
    someone_else = ca.sign_request(SigningRequest.new("pi1").csr_pem, "pi1", ["10.0.0.8"])
    with pytest.raises(TlsError, match="another key"):
        request.accept(someone_else, ca.ca_pem)
    with pytest.raises(TlsError, match="not a certificate signing request"):
        ca.sign_request(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "pi0", ["10.0.0.7"])


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://127.0.0.2:7100", "127.0.0.2"),
        ("http://agent.ns.svc:7100/x", "agent.ns.svc"),
        ("https://[::1]:80", "::1"),
        ("", ""),
    ],
)
def test_url_host(url: str, host: str) -> None:
    assert url_host(url) == host
