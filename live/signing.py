"""The installation's signing key: Ed25519, kept in the database, made on first need.

It signs static bundles (:mod:`live.bundle`): a detached signature over the bundle's
manifest, which lists every file's SHA-256. Its public half is published at
``/api/signing-key`` and in every bundle, so a government web team, a journalist or a
court can check, with ``live verify`` or with ``openssl``, that a folder of plain files
is the record this installation made.

Why in the database (``meta``), not a file: every worker and every host of one
installation must sign with the same key, and the database is what they share; a backup
and ``live copy-to`` carry it with everything else. Two workers that need it at once on
a new database both write one and the first write wins (as with the cookie secret), so
all of them read back the same key. The key is stored unencrypted: whoever can read the
database can already change the record, and the chain, not the key, is what shows that.

The cryptography is the ``cryptography`` package's (OpenSSL underneath); nothing here
is hand-written but the encodings.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .events import JSON
from .store import Meta

META_KEY = "signing_key"
"""Where the private key is kept in ``meta``: PKCS #8, PEM."""
ALGORITHM = "Ed25519"


async def private_key(store: Meta) -> Ed25519PrivateKey:
    """The installation's key, generated and stored the first time it is asked for."""
    pem = await store.get_meta(META_KEY)
    if pem is None:
        new = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        await store.set_meta(META_KEY, new.decode(), replace=False)  # another worker may win
        pem = await store.get_meta(META_KEY)
        assert pem is not None
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey), "the stored signing key is not an Ed25519 key"
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM: what ``openssl pkeyutl -verify -pubin`` reads."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(raw(key)).hexdigest()[:16]


def describe(key: Ed25519PublicKey) -> JSON:
    """The public key as ``/api/signing-key`` and a bundle's manifest publish it."""
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(key),
        "public_key": base64.b64encode(raw(key)).decode(),
        "pem": public_pem(key),
    }


def load_public(text: str) -> Ed25519PublicKey:
    """A public key given as PEM or as the base64 of its 32 bytes; ValueError if neither."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an Ed25519 public key: {exc}") from None


def verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
