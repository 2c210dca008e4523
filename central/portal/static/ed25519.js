/* Ed25519 signature verification (RFC 8032 section 5.1.7) for browsers without WebCrypto Ed25519.

   verify.js uses crypto.subtle with {name: "Ed25519"} where the browser has it and this
   script otherwise (or when told to, for the tests). Written for this project from RFC 8032;
   plain ES2020, no dependency, BigInt arithmetic, SHA-512 from crypto.subtle.digest.

   It decides exactly as the station's `cryptography` (OpenSSL) and Chromium's WebCrypto
   (BoringSSL) do, which tests/central/test_portal_verify.py checks on edge vectors:
   - S must be below the group order L (no malleable second signature);
   - the check is cofactorless: encode([S]B - [k]A) must equal the 32 bytes of R, so a
     non-canonical R never verifies;
   - the public key is decoded leniently, as those libraries do: y is taken modulo p (an
     encoding with y >= p is accepted), x = 0 with the sign bit set is accepted, and
     small-order keys are not refused (a signature under them is still checked by the
     equation above). k hashes the 32 key bytes as given.
   Verification handles public data only, so variable-time arithmetic is fine here.

   API: uchastokEd25519.verify(publicKey, signature, message) -> Promise<boolean>, each a
   Uint8Array (32, 64 and any number of bytes). */
(function (root) {
  "use strict";

  const P = (1n << 255n) - 19n;
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;

  function mod(a) {
    const r = a % P;
    return r < 0n ? r + P : r;
  }

  function power(base, exp) {
    let result = 1n;
    let b = mod(base);
    let e = exp;
    while (e > 0n) {
      if (e & 1n) result = (result * b) % P;
      b = (b * b) % P;
      e >>= 1n;
    }
    return result;
  }

  function invert(a) {
    return power(a, P - 2n); // Fermat: p is prime
  }

  const D = mod(-121665n * invert(121666n));
  const D2 = mod(2n * D);
  const SQRT_M1 = power(2n, (P - 1n) / 4n); // a square root of -1 modulo p

  // Points in extended coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, xy = T/Z (RFC 8032 5.1.4).
  const IDENTITY = Object.freeze({ X: 0n, Y: 1n, Z: 1n, T: 0n });

  function add(p, q) {
    const a = mod((p.Y - p.X) * (q.Y - q.X));
    const b = mod((p.Y + p.X) * (q.Y + q.X));
    const c = mod(p.T * D2 * q.T);
    const d = mod(p.Z * 2n * q.Z);
    const e = b - a;
    const f = d - c;
    const g = d + c;
    const h = b + a;
    return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
  }

  function double(p) {
    const a = mod(p.X * p.X);
    const b = mod(p.Y * p.Y);
    const c = mod(2n * p.Z * p.Z);
    const h = a + b;
    const xy = p.X + p.Y;
    const e = mod(h - xy * xy);
    const g = a - b;
    const f = c + g;
    return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
  }

  function negate(p) {
    return { X: mod(-p.X), Y: p.Y, Z: p.Z, T: mod(-p.T) };
  }

  function littleEndian(bytes) {
    let n = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
    return n;
  }

  // x from y and the sign bit (RFC 8032 5.1.3 steps 2-4), or null when no x exists.
  function recoverX(y, sign) {
    const u = mod(y * y - 1n);
    const v = mod(D * y * y + 1n);
    const v3 = mod(v * v * v);
    let x = mod(u * v3 * power(u * v3 * v3 * v, (P - 5n) / 8n));
    const vxx = mod(v * x * x);
    if (vxx !== u) {
      if (vxx !== mod(-u)) return null;
      x = mod(x * SQRT_M1);
    }
    // RFC 8032 refuses x = 0 with the sign bit set; OpenSSL and BoringSSL accept it (x stays 0).
    if (x !== 0n && Number(x & 1n) !== sign) x = P - x;
    return x;
  }

  function decodePoint(bytes) {
    const n = littleEndian(bytes);
    const sign = Number(n >> 255n);
    const y = mod(n & ((1n << 255n) - 1n)); // y >= p taken modulo p, as the libraries do
    const x = recoverX(y, sign);
    if (x === null) return null;
    return { X: x, Y: y, Z: 1n, T: mod(x * y) };
  }

  function encodePoint(p) {
    const zInv = invert(p.Z);
    const x = mod(p.X * zInv);
    let n = mod(p.Y * zInv) | ((x & 1n) << 255n);
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) {
      out[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    return out;
  }

  const BASE_Y = mod(4n * invert(5n));
  const BASE = { X: recoverX(BASE_Y, 0), Y: BASE_Y, Z: 1n, T: 0n };
  BASE.T = mod(BASE.X * BASE.Y);

  // [a]P + [b]Q with one chain of doublings (Straus); a, b < 2^256.
  function doubleScalarMult(a, p, b, q) {
    const pq = add(p, q);
    let r = IDENTITY;
    for (let i = 255n; i >= 0n; i--) {
      r = double(r);
      const bitA = (a >> i) & 1n;
      const bitB = (b >> i) & 1n;
      if (bitA && bitB) r = add(r, pq);
      else if (bitA) r = add(r, p);
      else if (bitB) r = add(r, q);
    }
    return r;
  }

  async function sha512(parts) {
    let length = 0;
    for (const part of parts) length += part.length;
    const all = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-512", all));
  }

  async function verify(publicKey, signature, message) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    const rBytes = signature.subarray(0, 32);
    const s = littleEndian(signature.subarray(32, 64));
    if (s >= L) return false;
    const a = decodePoint(publicKey);
    if (a === null) return false;
    const k = littleEndian(await sha512([rBytes, publicKey, message])) % L;
    const check = encodePoint(doubleScalarMult(s, BASE, k, negate(a)));
    let diff = 0;
    for (let i = 0; i < 32; i++) diff |= check[i] ^ rBytes[i];
    return diff === 0;
  }

  root.uchastokEd25519 = Object.freeze({ verify });
})(globalThis);
