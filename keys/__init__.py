"""Node identities: signing and encryption key pairs, identity cards, and the trust rules.

Imports nothing of credgap's own; ``transfer`` uses its key types.
"""

from keys.contexts import Purpose, signed_message
from keys.errors import EncodingError, KeyStoreError, SignatureError, TrustError
from keys.identity import (
    ROLES,
    PublicKeys,
    Role,
    SecretKeys,
    format_fingerprint,
    key_id_of,
    parse_fingerprint,
    verify_signature,
)
from keys.trust import KeyStatus, TrustedKey, TrustState

__all__ = [
    "ROLES",
    "EncodingError",
    "KeyStatus",
    "KeyStoreError",
    "PublicKeys",
    "Purpose",
    "Role",
    "SecretKeys",
    "SignatureError",
    "TrustError",
    "TrustState",
    "TrustedKey",
    "format_fingerprint",
    "key_id_of",
    "parse_fingerprint",
    "signed_message",
    "verify_signature",
]
