"""The certificate's PDF signature: a CMS SignedData (ETSI.CAdES.detached, PAdES B-B)
over every byte of the file but the signature itself, by the centre's signing key, with
its certificate and the centre CA's in the signature so any PDF reader can show who
signed it. Verification (services.issuance.verification) is pyHanko's.

pyHanko could sign too (17.5 ms a document, measured here); the file is written in one
pass by pdfwriter with the signature's room reserved, so signing is one digest, one
ECDSA signature and this structure: well under a millisecond.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import algos, cms, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class SigningMaterial:
    """What a render worker needs to sign: the key (PKCS#8 PEM) and the certificates
    (DER). Picklable, so a worker process gets it with each job."""

    key_pem: bytes
    certificate_der: bytes
    ca_der: bytes


@dataclass(frozen=True)
class _Template:
    """The CMS structure of one signer with everything but the digest and the signature
    dumped once (asn1crypto takes ~20 ms to dump two certificates; a document cannot)."""

    key: ec.EllipticCurvePrivateKey
    attributes: bytes  # the signed attributes as a DER SET, with _DIGEST_MARK for the digest
    signer_head: bytes  # SignerInfo's version, sid and digest algorithm
    signer_tail: bytes  # SignerInfo's signature algorithm
    data_head: bytes  # SignedData's version, digest algorithms, content info and certificates


_DIGEST_MARK = bytes(range(0x40, 0x60))  # 32 bytes that occur nowhere else in the structure


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _children(der: bytes) -> list[bytes]:
    """The DER elements inside a constructed element, each with its header."""
    body = _content(der)
    out = []
    while body:
        n = _element_length(body)
        out.append(body[:n])
        body = body[n:]
    return out


def _element_length(der: bytes) -> int:
    first = der[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    return 2 + count + int.from_bytes(der[2:2 + count], "big")


def _content(der: bytes) -> bytes:
    first = der[1]
    start = 2 if first < 0x80 else 2 + (first & 0x7F)
    return der[start:_element_length(der)]


@lru_cache(maxsize=4)
def _template(material: SigningMaterial) -> _Template:
    key = serialization.load_pem_private_key(material.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the signing key is not an EC key")
    cert = x509.Certificate.load(material.certificate_der)
    ca = x509.Certificate.load(material.ca_der)
    essv2 = tsp.SigningCertificateV2({"certs": [tsp.ESSCertIDv2({
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "cert_hash": hashlib.sha256(material.certificate_der).digest(),
        "issuer_serial": tsp.IssuerSerial({
            "issuer": [x509.GeneralName({"directory_name": cert.issuer})],
            "serial_number": cert.serial_number}),
    })]})
    attributes = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [_DIGEST_MARK]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [essv2]}),
    ])
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": cert.issuer, "serial_number": cert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": b"\0" * 64,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": cms.ContentInfo({"content_type": "data"}),
        "certificates": [cms.CertificateChoices({"certificate": cert}),
                         cms.CertificateChoices({"certificate": ca})],
        "signer_infos": [signer],
    })
    parts = _children(signer.dump())  # version, sid, digest alg, [0] attrs, sig alg, signature
    data_parts = _children(signed_data.dump())  # version, digest algs, content, [0] certs, signer infos
    return _Template(
        key=key,
        attributes=b"\x31" + attributes.dump()[1:],  # signed as a SET (RFC 5652 §5.4)
        signer_head=b"".join(parts[:3]), signer_tail=parts[4],
        data_head=b"".join(data_parts[:4]),
    )


def cms_signature(material: SigningMaterial, signed_bytes: bytes) -> bytes:
    """The DER of a detached CMS signature over ``signed_bytes`` (PAdES B-B: the signing
    time is the signature dictionary's /M, not a signed attribute)."""
    t = _template(material)
    attributes = t.attributes.replace(_DIGEST_MARK, hashlib.sha256(signed_bytes).digest())
    signature = t.key.sign(attributes, ec.ECDSA(hashes.SHA256()))
    signer = _der(0x30, t.signer_head + b"\xa0" + attributes[1:] + t.signer_tail + _der(0x04, signature))
    signed_data = _der(0x30, t.data_head + _der(0x31, signer))
    return _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010702")) + _der(0xA0, signed_data))


def pdf_date(at: datetime) -> str:
    """A PDF date string, D:YYYYMMDDHHmmSS+HH'mm'."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    offset = at.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"D:{at:%Y%m%d%H%M%S}{sign}{minutes // 60:02d}'{minutes % 60:02d}'"

