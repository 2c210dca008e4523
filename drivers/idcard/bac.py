"""Basic Access Control (ICAO 9303 Part 11 §4.3 and §9.7): keys and mutual authentication.

Guarantees:

* ``document_keys(mrz_information)`` gives (Kseed, Kenc, Kmac): Kseed is the
  first 16 bytes of SHA-1 of the MRZ information; Kenc/Kmac are derived with
  counters 1 and 2 (``sm.derive_key``), DES parity adjusted.
* ``ifd_authentication`` builds the reader's MUTUAL AUTHENTICATE data
  E_IFD || M_IFD from RND.IFD, RND.IC and K.IFD.
* ``ifd_session`` checks the chip's answer (its MAC, and that it echoes our
  RND.IFD and RND.IC) and returns the ``SecureMessaging`` session keyed from
  K.IFD xor K.IC, with SSC = RND.IC[4:8] || RND.IFD[4:8]; a wrong answer
  raises ``BacFailedError``.
* ``ic_answer`` is the chip's side of the same exchange (for the emulator).

Example (Appendix D)::

    >>> kseed, kenc, kmac = document_keys("L898902C<369080619406236")
    >>> kseed.hex().upper()
    '239AB9CB282DAF66231DC5A4DF6BFBAE'
"""

from __future__ import annotations

import hashlib
import hmac

from drivers.idcard.errors import BacFailedError
from drivers.idcard.sm import (
    SecureMessaging,
    derive_key,
    des3_decrypt,
    des3_encrypt,
    retail_mac,
)


def document_keys(mrz_information: str) -> tuple[bytes, bytes, bytes]:
    """(Kseed, Kenc, Kmac) from the MRZ information string."""
    kseed = hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]
    return kseed, derive_key(kseed, 1), derive_key(kseed, 2)


def session_keys(k_ifd: bytes, k_ic: bytes) -> tuple[bytes, bytes]:
    """(KSenc, KSmac) from the two key halves exchanged in MUTUAL AUTHENTICATE."""
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    return derive_key(seed, 1), derive_key(seed, 2)


def ifd_authentication(rnd_ifd: bytes, rnd_ic: bytes, k_ifd: bytes, kenc: bytes,
                       kmac: bytes) -> bytes:
    """E_IFD || M_IFD: the 40 bytes of the reader's MUTUAL AUTHENTICATE."""
    e_ifd = des3_encrypt(kenc, rnd_ifd + rnd_ic + k_ifd)
    return e_ifd + retail_mac(kmac, e_ifd)


def ifd_session(answer: bytes, rnd_ifd: bytes, rnd_ic: bytes, k_ifd: bytes, kenc: bytes,
                kmac: bytes) -> SecureMessaging:
    """Check the chip's E_IC || M_IC and open the secure-messaging session."""
    if len(answer) != 40:
        raise BacFailedError(f"MUTUAL AUTHENTICATE answer has {len(answer)} bytes, not 40")
    e_ic, m_ic = answer[:32], answer[32:]
    if not hmac.compare_digest(retail_mac(kmac, e_ic), m_ic):
        raise BacFailedError("chip's MUTUAL AUTHENTICATE MAC does not verify")
    plain = des3_decrypt(kenc, e_ic)
    if plain[:8] != rnd_ic or plain[8:16] != rnd_ifd:
        raise BacFailedError("chip's MUTUAL AUTHENTICATE does not echo the challenges")
    k_ic = plain[16:32]
    ks_enc, ks_mac = session_keys(k_ifd, k_ic)
    return SecureMessaging(ks_enc, ks_mac, rnd_ic[4:] + rnd_ifd[4:])


def ic_answer(command_data: bytes, rnd_ic: bytes, k_ic: bytes, kenc: bytes,
              kmac: bytes) -> tuple[bytes, SecureMessaging] | None:
    """The chip's side: E_IC || M_IC and its session, or None when the reader is wrong."""
    if len(command_data) != 40:
        return None
    e_ifd, m_ifd = command_data[:32], command_data[32:]
    if not hmac.compare_digest(retail_mac(kmac, e_ifd), m_ifd):
        return None
    plain = des3_decrypt(kenc, e_ifd)
    rnd_ifd, echoed, k_ifd = plain[:8], plain[8:16], plain[16:32]
    if echoed != rnd_ic:
        return None
    e_ic = des3_encrypt(kenc, rnd_ic + rnd_ifd + k_ic)
    ks_enc, ks_mac = session_keys(k_ifd, k_ic)
    return e_ic + retail_mac(kmac, e_ic), SecureMessaging(ks_enc, ks_mac, rnd_ic[4:] + rnd_ifd[4:])
