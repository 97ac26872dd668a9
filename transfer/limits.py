"""Size limits and constants of package formats 1 and 2 (docs/FORMAT.md §2, §6, §11)."""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"credgap.package/v1\n"
FORMAT_VERSION = 1  # the format every node reads and, until its peer advertises more, writes
READS_FORMAT = 2  # the highest format this code reads, advertised in identity cards (FORMAT.md §2.1)
FORMATS = (1, 2)
MAGICS = {1: MAGIC, 2: b"credgap.package/v2\n"}  # one length: the prefix arithmetic is the same for both


def magic(fmt: int) -> bytes:
    """The magic line of package format ``fmt`` (1 or 2)."""
    return MAGICS[fmt]


SUITE_CG1 = 1
RESERVED_SUITES = frozenset(range(2, 16))
MAX_HEADER = 65536
SIG_LEN = 64
TAG_LEN = 16
CHUNK = 65536
MAX_ITEM = 48 * 1024 * 1024
MAX_DOCUMENT = 16 * 1024 * 1024
MAX_WINDOW_LOG = 23  # 8 MiB zstd window
MAX_NOT_AFTER_SPAN = 31 * 86400
DEFAULT_VALIDITY = 7 * 86400
DEFAULT_SKEW = 600
SEQ_DIGITS = 12  # a package file name's sequence field, p<seq:012>-… (FORMAT.md §16)
MAX_SEQ = 10**SEQ_DIGITS - 1  # the header's seq limit: every seq has its file name (FORMAT.md §3.2)
DEFAULT_REBASE_BOUND = 10_000


@dataclass(frozen=True)
class Limits:
    """A reader's configurable limits (FORMAT.md §11)."""

    max_file: int = 16 * 1024**3
    max_plain: int = 64 * 1024**3
    pending_quota: int = 1000
    skew: int = DEFAULT_SKEW
    rebase_bound: int = DEFAULT_REBASE_BOUND  # how far ahead of `last` a package may be (FORMAT.md §9.3)
    key_grace: int = DEFAULT_SKEW  # seconds a signer key stays valid past its dates, at the reader's clock (§9.1)


def payload_size(compressed: int) -> int:
    """Exact ciphertext length of a STREAM payload over ``compressed`` bytes (FORMAT.md §6.3)."""
    chunks = max(1, -(-compressed // CHUNK))
    return compressed + TAG_LEN * chunks


def package_size(header_len: int, compressed: int) -> int:
    """Exact file size of a package whose header is ``header_len`` bytes and payload ``compressed`` (§2)."""
    return len(MAGIC) + 4 + header_len + SIG_LEN + payload_size(compressed)
