"""Receipt codes and passphrases: format, normalization, hashing."""

from __future__ import annotations

from intake import receipts


def test_receipt_has_three_groups_of_unambiguous_characters() -> None:
    """A new receipt is 12 characters from the unambiguous alphabet, in groups of four."""
    code = receipts.new_receipt()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4]
    assert all(ch in receipts.RECEIPT_ALPHABET for ch in "".join(groups))


def test_receipts_are_random() -> None:
    """Two receipts drawn one after the other differ (59 bits each)."""
    assert len({receipts.new_receipt() for _ in range(200)}) == 200


def test_normalize_accepts_what_residents_type() -> None:
    """Lower case, spaces and missing dashes are accepted; wrong lengths and letters are not."""
    assert receipts.normalize_receipt(" k7m2 p9xa 3fqt ") == "K7M2-P9XA-3FQT"
    assert receipts.normalize_receipt("K7M2P9XA3FQT") == "K7M2-P9XA-3FQT"
    assert receipts.normalize_receipt("K7M2-P9XA") is None
    assert receipts.normalize_receipt("O0I1-P9XA-3FQT") is None
    assert receipts.normalize_passphrase("K7M2-P9XA-3FQT") == "k7m2-p9xa-3fqt"


def test_receipt_hash_is_keyed_and_stable() -> None:
    """The stored hash is the same for every spelling of a receipt and is not the receipt itself."""
    h = receipts.receipt_hash("k7m2 p9xa 3fqt")
    assert h == receipts.receipt_hash("K7M2-P9XA-3FQT")
    assert "K7M2" not in h and len(h) == 64
    assert h != receipts.receipt_hash("K7M2-P9XA-3FQV")


def test_passphrase_hash_is_argon2_and_checks() -> None:
    """Passphrases are stored as Argon2 hashes and checked in any spelling."""
    stored = receipts.hash_passphrase("k7m2-p9xa-3fqt")
    assert stored.startswith("$argon2id$")
    assert receipts.check_passphrase(stored, "K7M2 P9XA 3FQT")
    assert not receipts.check_passphrase(stored, "k7m2-p9xa-3fqv")
    assert not receipts.check_passphrase(stored, "")
