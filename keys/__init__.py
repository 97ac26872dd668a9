"""Node identities: signing and encryption key pairs, identity cards, the trust store rules."""
