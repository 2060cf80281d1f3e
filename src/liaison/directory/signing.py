"""Signed exports: JSON signed with the deployment's Ed25519 key, PDF signed with pyHanko.

JSON. The file is the canonical serialisation (`canonical_json`: sorted keys, no white space) of
the edition document with an `export` member (when, by whom, the download's mark) and a
`signature` member `{"alg": "Ed25519", "key_id": …, "value": base64}`. The signature covers
`JSON_LABEL` followed by the canonical serialisation of the same object whose `signature` member
holds only `alg` and `key_id`. A verifier parses the file, serialises it again and requires the
very same bytes — so any changed byte (even white space or an escape that means the same
character) fails, while the file stays plain, readable JSON — and then checks the signature.

PDF. A CMS signature (pyHanko, Ed25519) by a self-signed X.509 certificate for the deployment
key, cached in the keys directory. Verification requires the signature to be intact and to
cover the whole file, the /Contents hex string to be the signature in its one canonical
spelling (so that no byte outside the signed range can change either), and the certificate's
key to be this deployment's or one it trusts (core/keys.py).

CSV, XLSX and vCard exports are not signed: their formats have no place for a signature that
an editor or a phone would keep.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from django.utils.translation import gettext as _

from liaison.core import keys

logger = logging.getLogger(__name__)

FORMAT_PREFIX = "liaison-directory-edition/"
JSON_LABEL = b"liaison-directory-export/1\n"
ALGORITHM = "Ed25519"
CERT_FILE = "ed25519-cert.pem"
PDF_FIELD = "LiaisonSignature"
# Machine-readable facts in the PDF's /Keywords (inside the signed range): "liaison-directory-
# edition/1; network=SLUG; edition=N; mark=dl_…".
PDF_KEYWORDS_PREFIX = "liaison-directory-edition/1"

_cert_lock = threading.Lock()


class VerificationFailed(Exception):
    """Why a file is not a valid signed export; `reason` is one of the class constants."""

    NOT_EXPORT = "not_export"
    UNSIGNED_FORMAT = "unsigned_format"
    UNKNOWN_KEY = "unknown_key"
    ALTERED = "altered"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Verified:
    kind: str  # "json" | "pdf"
    network: str  # slug
    edition: int | None
    key_id: str
    own_key: bool  # signed by this deployment's key (else by a key it trusts)

    def __str__(self) -> str:
        signer = _("this deployment") if self.own_key else _("a trusted key")
        return _(
            "valid: edition %(edition)s of %(network)s, signed by key %(kid)s (%(signer)s)"
        ) % {
            "edition": self.edition,
            "network": self.network,
            "kid": self.key_id,
            "signer": signer,
        }


def _not_export(why: str) -> VerificationFailed:
    return VerificationFailed(
        VerificationFailed.NOT_EXPORT, _("not a Liaison export (%(why)s)") % {"why": why}
    )


def _altered() -> VerificationFailed:
    return VerificationFailed(
        VerificationFailed.ALTERED, _("the content was altered after signing")
    )


def _unknown_key(kid: str) -> VerificationFailed:
    return VerificationFailed(
        VerificationFailed.UNKNOWN_KEY,
        _("signed by an unknown key %(kid)s (another deployment?)") % {"kid": kid},
    )


# --- JSON ------------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The one serialisation of `value` that signed JSON exports use: keys sorted, no white
    space between tokens, UTF-8 without escapes for non-ASCII characters, a final newline —
    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\\n"`,
    which any verifier can reproduce (and Python's C encoder writes fast: an indented form
    takes ten times longer on a 10,000-entry edition)."""
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def _signed_message(payload: dict[str, Any]) -> bytes:
    return JSON_LABEL + canonical_json(payload)


def sign_json(document: dict[str, Any]) -> bytes:
    """The signed JSON export of `document` (an edition document, see models.Edition)."""
    if "signature" in document:
        raise ValueError("the document already has a signature member")
    kid = keys.key_id()
    payload = {**document, "signature": {"alg": ALGORITHM, "key_id": kid}}
    value = base64.b64encode(keys.sign(_signed_message(payload))).decode("ascii")
    return canonical_json(
        {**document, "signature": {"alg": ALGORITHM, "key_id": kid, "value": value}}
    )


def verify_json(data: bytes) -> Verified:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _not_export(_("not a JSON document")) from None
    if not isinstance(document, dict) or not str(document.get("format", "")).startswith(
        FORMAT_PREFIX
    ):
        raise _not_export(_("a JSON file that is not a directory edition"))
    signature = document.get("signature")
    if not isinstance(signature, dict) or set(signature) != {"alg", "key_id", "value"}:
        raise _not_export(_("a directory edition without a signature"))
    if signature["alg"] != ALGORITHM:
        raise _not_export(_("unsupported signature algorithm"))
    try:
        canonical = canonical_json(document)
    except ValueError:
        raise _altered() from None
    if canonical != data:
        raise _altered()
    kid = str(signature["key_id"])
    key = keys.find_public_key(kid)
    if key is None:
        raise _unknown_key(kid[:32])
    value = signature["value"]
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    # Base64 has spellings that decode to the same bytes (the unused low bits of the last
    # character): only the canonical one is accepted, so that no byte can change unnoticed.
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != value:
        raise _altered()
    payload = {**document, "signature": {"alg": ALGORITHM, "key_id": kid}}
    if not keys.verify(_signed_message(payload), raw, key):
        raise _altered()
    edition = document.get("edition")
    network = document.get("network") or {}
    return Verified(
        kind="json",
        network=str(network.get("slug", "")) if isinstance(network, dict) else "",
        edition=edition if isinstance(edition, int) else None,
        key_id=kid,
        own_key=kid == keys.key_id(),
    )


# --- the deployment certificate (for PDF signatures) -------------------------------------------


def _cert_path() -> Path:
    return keys.keys_dir() / CERT_FILE


def _build_certificate() -> x509.Certificate:
    key = keys.signing_key()
    kid = keys.key_id()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Liaison"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Liaison deployment key {kid}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        # The certificate only carries the key: trust is decided by the key (keys.py), so a
        # long validity avoids PDFs that stop verifying when a date passes.
        .not_valid_after(now + dt.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, None)
    )


def _same_key(cert: x509.Certificate) -> bool:
    public = cert.public_key()
    return isinstance(public, Ed25519PublicKey) and keys.raw_public_bytes(
        public
    ) == keys.raw_public_bytes(keys.public_key())


def deployment_certificate() -> x509.Certificate:
    """The self-signed certificate of the deployment key, made once and kept beside the key
    (made again when the key was rotated)."""
    path = _cert_path()
    with _cert_lock:
        with contextlib.suppress(OSError, ValueError):
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            if _same_key(cert):
                return cert
        cert = _build_certificate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        logger.info("made the certificate of the deployment key %s", path)
        return cert


# --- PDF -------------------------------------------------------------------------------------


def sign_pdf(pdf: bytes) -> bytes:
    """`pdf` with a pyHanko signature by the deployment key over the whole file."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = asn1_x509.Certificate.load(
        deployment_certificate().public_bytes(serialization.Encoding.DER)
    )
    private = asn1_keys.PrivateKeyInfo.load(
        keys.signing_key().private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=private,
        cert_registry=SimpleCertificateStore(),  # the signing certificate is included anyway
    )
    meta = PdfSignatureMetadata(
        field_name=PDF_FIELD,
        reason="Liaison directory edition",
        name=f"Liaison deployment key {keys.key_id()}",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _check_contents_canonical(data: bytes, byte_range: list[int], signer_cert) -> None:
    """The bytes between the two signed ranges must be the signature in its one spelling.

    The ByteRange leaves out the /Contents hex string, and parts of a CMS structure are not
    covered by its signature (the SignedData's version, digest algorithm list and certificate
    set). So the hex must be upper case, padded with zeros only, and the CMS structure must be
    exactly the one built from its signer info and the signing certificate: then no byte of the
    file can change without failing verification.
    """
    from asn1crypto import cms

    start, first, second, length = byte_range
    if start != 0 or second + length != len(data) or first > second:
        raise _altered()
    gap = data[first:second]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">":
        raise _altered()
    inner = gap[1:-1]
    try:
        raw = bytes.fromhex(inner.decode("ascii"))
        content_info = cms.ContentInfo.load(raw, strict=False)
        size = len(content_info.dump())
        signed_data = content_info["content"]
        [signer_info] = signed_data["signer_infos"]
        ok = (
            content_info["content_type"].native == "signed_data"
            and signer_info["version"].native == "v1"
            and signer_info["sid"].name == "issuer_and_serial_number"
            and not signer_info["unsigned_attrs"].native
            and signer_cert is not None
        )
        rebuilt = cms.ContentInfo(
            {
                "content_type": "signed_data",
                "content": cms.SignedData(
                    {
                        "version": "v1",
                        "digest_algorithms": [signer_info["digest_algorithm"]],
                        "encap_content_info": {"content_type": "data"},
                        "certificates": [signer_cert],
                        "signer_infos": [signer_info],
                    }
                ),
            }
        ).dump()
    except Exception:  # same: a damaged CMS structure
        raise _altered() from None
    if not ok or rebuilt != raw[:size]:
        raise _altered()
    if raw.hex().upper().encode("ascii") != inner or raw[size:].strip(b"\0"):
        raise _altered()


def _keyword_facts(keywords: str) -> dict[str, str]:
    parts = [part.strip() for part in keywords.split(";")]
    if not parts or parts[0] != PDF_KEYWORDS_PREFIX:
        return {}
    facts = {}
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        if sep:
            facts[name.strip()] = value.strip()
    return facts


def verify_pdf(data: bytes) -> Verified:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
        try:
            info = reader.trailer["/Info"]
        except KeyError:
            info = None
        keywords = str(info.get("/Keywords", "")) if info is not None else ""
    except Exception:  # a damaged file can make the parser fail in any way
        # A byte changed in a PDF of ours can make it unreadable: say so if it still looks like
        # one of ours, else that it is not one.
        if PDF_KEYWORDS_PREFIX.encode() in data and b"/ByteRange" in data:
            raise _altered() from None
        raise _not_export(_("an unreadable PDF")) from None
    facts = _keyword_facts(keywords)
    if not signatures:
        if facts:
            raise _altered()  # ours, with its signature taken out
        raise _not_export(_("a PDF without a signature"))
    if len(signatures) != 1 or not facts:
        if not facts:
            raise _not_export(_("a signed PDF that is not a Liaison directory edition"))
        raise _altered()
    embedded = signatures[0]
    try:
        byte_range = [int(x) for x in embedded.sig_object["/ByteRange"]]
        cert = embedded.signer_cert
        public = serialization.load_der_public_key(cert.public_key.dump())
    except Exception:  # same: a damaged signature dictionary or certificate
        raise _altered() from None
    _check_contents_canonical(data, byte_range, cert)
    if not isinstance(public, Ed25519PublicKey):
        raise _not_export(_("a PDF not signed with an Ed25519 key"))
    try:
        native = x509.load_der_x509_certificate(cert.dump())
        native.verify_directly_issued_by(native)
    except (InvalidSignature, ValueError, TypeError):
        raise _altered() from None
    try:
        status = validate_pdf_signature(
            embedded,
            ValidationContext(trust_roots=[cert], allow_fetching=False),
            skip_diff=True,
        )
    except Exception:  # same: whatever pyHanko meets in a damaged signature
        raise _altered() from None
    if not (
        status.intact and status.valid and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    ):
        raise _altered()
    kid = keys.key_id_of(public)
    if keys.find_public_key(kid) is None:
        raise _unknown_key(kid)
    try:
        edition: int | None = int(facts.get("edition", ""))
    except ValueError:
        edition = None
    return Verified(
        kind="pdf",
        network=facts.get("network", ""),
        edition=edition,
        key_id=kid,
        own_key=kid == keys.key_id(),
    )


# --- any file --------------------------------------------------------------------------------

_UNSIGNED_HEADER = re.compile(rb"^\s*(member_code[,;]|begin:vcard)", re.IGNORECASE)


def verify_export(data: bytes) -> Verified:
    """Check that `data` is an unaltered signed export by this deployment or a key it trusts.

    Raises VerificationFailed with a plain reason otherwise.
    """
    body = data.removeprefix(b"\xef\xbb\xbf")
    if body.startswith(b"%PDF-"):
        return verify_pdf(data)
    if body.startswith(b"PK\x03\x04"):
        if b"xl/" in body[:4096] or b"[Content_Types].xml" in body[:4096]:
            raise VerificationFailed(
                VerificationFailed.UNSIGNED_FORMAT,
                _("CSV/XLSX/vCard exports are not signed; only JSON and PDF are"),
            )
        raise _not_export(_("a ZIP archive"))
    if _UNSIGNED_HEADER.match(body[:200]):
        raise VerificationFailed(
            VerificationFailed.UNSIGNED_FORMAT,
            _("CSV/XLSX/vCard exports are not signed; only JSON and PDF are"),
        )
    if body.lstrip()[:1] in (b"{", b"["):
        return verify_json(data)
    raise _not_export(_("neither a JSON nor a PDF file"))
