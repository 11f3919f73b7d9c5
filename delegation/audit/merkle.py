"""RFC 6962 section 2.1 Merkle tree hashing (Certificate Transparency), over leaf hashes.

``leaf_hash(data) = SHA-256(0x00 || data)``; for n > 1 leaves the tree hash is
``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` with k the largest power of two below n; the
hash of an empty tree is ``SHA-256()``.
"""

import hashlib

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash of one entry (32 bytes)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over already-hashed leaves (each 32 bytes), in order.

    Iterative and equal to the recursive definition: the tree is built bottom-up, and an
    odd node at the end of a level is carried up unchanged, which is what splitting at the
    largest power of two below n yields.
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
