/* A QR code reader for photos, in the reader's own browser: no app, no dependency, no build step.

   uchastokQR.decode(imageData) -> [{text, corners, version, level, mask, corrected}] reads every
   QR code (ISO/IEC 18004 model 2) in one photo: an A4 results protocol carries several
   (count/paper.py `verification_codes`, docs/protocol.md section 10), and
   central/portal/static/check.html gives each photo's codes to the protocol check.
   `imageData` is a canvas ImageData (RGBA) or {width, height, data} with one grey byte a pixel.
   `corners` are the symbol's outer corners in the image (top-left, top-right, bottom-right,
   bottom-left of the symbol as printed); `corrected` is how many codewords Reed-Solomon fixed.
   A code that cannot be read is left out, never returned with a wrong text: every block must
   pass Reed-Solomon (within its capacity, less the misdecode-protection codewords of the small
   versions) and the bit stream must parse to its end.
   uchastokQR.scan(imageData) -> {codes, unreadable} says also which symbols were seen (their
   format information reads) but could not be read: check.html asks for a better photo then.

   What it covers: versions 1-40, error levels L, M, Q, H, the eight masks, format and version
   information (BCH (15,5) and (18,6), nearest valid codeword within distance 3), numeric,
   alphanumeric, byte (UTF-8 when valid, else ISO-8859-1; ECI 26 is UTF-8) and kanji modes
   (Shift JIS), ECI, structured append and FNC1 headers skipped.

   How a photo is read:
     1. grey levels, then an adaptive threshold: the image in 8-pixel blocks, each block's
        threshold the mean of the mid-ranges of the blocks with contrast among the 5x5 around
        it, so a shadow or a lamp across the page moves the threshold with the light, and a
        thin light line beside blank paper (a finder's ring, blurred) stays light; a block with
        no contrast of its own (inside a large black module, or blank paper) takes the
        threshold of the nearest block that has some;
     2. finder patterns: runs of dark:light:dark:light:dark in the ratio 1:1:3:1:1 along every
        row (the ratio holds along any line through the centre, so at any rotation), checked
        along the column and a diagonal, merged, then centred on the centroid of the 3x3 dark
        centre and sized by the area inside the dark ring (rotation does not change an area);
     3. three finders that make an isosceles right angle are one symbol (TL at the right angle,
        TR and BL told apart by the turn's sense); the size estimate gives the version, read
        from the version information from version 7 on;
     4. the geometry: an affine map from the three finders, then the bottom-right alignment
        pattern searched around where that map puts it (a hand-held photo's perspective moves
        it) gives a homography; then every alignment pattern is found near where the
        homography puts it, and each cell between four of them is sampled with its own
        homography (a page that is not flat, a lens that bends lines);
     5. each module sampled at its centre; format information, unmasking, the codewords in
        their zigzag order, de-interleaving into blocks, Reed-Solomon over GF(256) (Berlekamp-
        Massey, Chien search, Forney), then the segments;
     6. when that fails, the modules again from their grey levels, equalised: blur spreads a
        module into its neighbours (a lone dark module among light ones comes out grey), so each
        module's level, normalised by the dark and light modules around it, is modelled from its
        own colour and its dark neighbours' count (least squares over the symbol) and each module
        decided given its neighbours, in a few rounds. On blurred photos this takes the modules
        read wrong from 2-6 % to under 0.5 %.
   When the mesh fails, the homography alone and the affine map are tried.

   uchastokQR.internals exposes the parts (Reed-Solomon, BCH decoding, reading a module matrix)
   for tests/central/test_portal_qr.py, which checks them against codes made by segno and
   photos of printed protocols, and compares the read rate with zxing-cpp's.
   Written for this project from ISO/IEC 18004:2015; plain ES2020. */
(function (root) {
  "use strict";

  // --- GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1 --------------------------------

  const EXP = new Uint8Array(512);
  const LOG = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
  const gmul = (a, b) => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);
  const gdiv = (a, b) => (a === 0 ? 0 : EXP[LOG[a] + 255 - LOG[b]]);

  // Polynomials here are arrays of coefficients, lowest degree first.
  function polyEval(p, x) {
    let y = 0;
    for (let i = p.length - 1; i >= 0; i--) y = gmul(y, x) ^ p[i];
    return y;
  }

  /* Reed-Solomon decoding of one block (data then EC codewords, the first codeword the highest
     power), generator roots alpha^0 .. alpha^(ec-1) as the standard has them. Corrects at most
     `maxErrors` codewords in place; returns how many it corrected, or -1 when the block has
     more errors than that (detected: the syndromes, the locator's degree and its roots do not
     agree, or the corrected block is still not a codeword). */
  function rsDecode(block, ec, maxErrors) {
    const n = block.length;
    const syn = new Array(ec);
    let clean = true;
    for (let j = 0; j < ec; j++) {
      let s = 0;
      const a = EXP[j];
      for (let i = 0; i < n; i++) s = gmul(s, a) ^ block[i];
      syn[j] = s;
      if (s) clean = false;
    }
    if (clean) return 0;
    // Berlekamp-Massey: the shortest LFSR (error locator) generating the syndromes.
    let C = [1];
    let B = [1];
    let L = 0;
    let m = 1;
    let b = 1;
    for (let k = 0; k < ec; k++) {
      let d = syn[k];
      for (let i = 1; i <= L; i++) d ^= gmul(C[i] || 0, syn[k - i]);
      if (d === 0) {
        m++;
        continue;
      }
      const coef = gdiv(d, b);
      const next = C.slice();
      for (let i = 0; i < B.length; i++) {
        while (next.length <= i + m) next.push(0);
        next[i + m] ^= gmul(coef, B[i]);
      }
      if (2 * L <= k) {
        B = C;
        L = k + 1 - L;
        b = d;
        m = 1;
      } else {
        m++;
      }
      C = next;
    }
    while (C.length > 1 && C[C.length - 1] === 0) C.pop();
    if (L !== C.length - 1 || L > maxErrors || L === 0) return -1;
    // Chien search: codeword i carries the power n-1-i; it is in error when the locator
    // vanishes at the inverse of alpha^(n-1-i).
    const positions = [];
    for (let i = 0; i < n; i++) {
      const p = n - 1 - i;
      if (polyEval(C, EXP[(255 - (p % 255)) % 255]) === 0) positions.push(i);
    }
    if (positions.length !== L) return -1;
    // Forney: the magnitude at X is X * Omega(X^-1) / Lambda'(X^-1) (first root alpha^0).
    const omega = new Array(ec).fill(0);
    for (let i = 0; i < ec; i++) {
      for (let j = 0; j < C.length && i + j < ec; j++) omega[i + j] ^= gmul(syn[i], C[j]);
    }
    const deriv = [];
    for (let i = 1; i < C.length; i++) deriv.push(i % 2 ? C[i] : 0);
    for (const i of positions) {
      const p = n - 1 - i;
      const X = EXP[p % 255];
      const Xinv = EXP[(255 - (p % 255)) % 255];
      const den = polyEval(deriv, Xinv);
      if (den === 0) return -1;
      block[i] ^= gmul(X, gdiv(polyEval(omega, Xinv), den));
    }
    for (let j = 0; j < ec; j++) {
      let s = 0;
      const a = EXP[j];
      for (let i = 0; i < n; i++) s = gmul(s, a) ^ block[i];
      if (s) return -1;
    }
    return L;
  }

  // --- format and version information (BCH codes) ---------------------------------------------

  const LEVELS = ["M", "L", "H", "Q"];          // the two level bits 00, 01, 10, 11
  const FORMAT_MASK = 0x5412;

  function bchRemainder(value, dataBits, poly, polyDegree) {
    let r = value << polyDegree;
    for (let i = dataBits - 1; i >= 0; i--) {
      if (r & (1 << (i + polyDegree))) r ^= poly << i;
    }
    return r;
  }
  const FORMAT_CODES = Array.from({ length: 32 }, (_, d) => ((d << 10) | bchRemainder(d, 5, 0x537, 10)) ^ FORMAT_MASK);
  const VERSION_CODES = [];
  for (let v = 7; v <= 40; v++) VERSION_CODES.push([v, (v << 12) | bchRemainder(v, 6, 0x1f25, 12)]);

  function popcount(x) {
    let c = 0;
    for (; x; x &= x - 1) c++;
    return c;
  }

  /* The 15 format bits as read (mask applied): {level, mask, distance} of the nearest valid
     codeword, or null when none is within 3 bits (the code's minimum distance is 7). */
  function decodeFormat(bits) {
    let best = null;
    for (let d = 0; d < 32; d++) {
      const dist = popcount(FORMAT_CODES[d] ^ bits);
      if (!best || dist < best.distance) best = { level: LEVELS[d >> 3], mask: d & 7, distance: dist };
    }
    return best.distance <= 3 ? best : null;
  }

  /* The 18 version bits: {version, distance}, or null when no valid codeword is within 3 bits. */
  function decodeVersion(bits) {
    let best = null;
    for (const [v, code] of VERSION_CODES) {
      const dist = popcount(code ^ bits);
      if (!best || dist < best.distance) best = { version: v, distance: dist };
    }
    return best.distance <= 3 ? best : null;
  }

  // --- the symbol's layout --------------------------------------------------------------------

  /* Error correction blocks (ISO/IEC 18004 table 9), per version and level L, M, Q, H:
     EC codewords per block, then (number of blocks, data codewords) for each group. */
  const EC_BLOCKS = [
    [[7, 1, 19], [10, 1, 16], [13, 1, 13], [17, 1, 9]],
    [[10, 1, 34], [16, 1, 28], [22, 1, 22], [28, 1, 16]],
    [[15, 1, 55], [26, 1, 44], [18, 2, 17], [22, 2, 13]],
    [[20, 1, 80], [18, 2, 32], [26, 2, 24], [16, 4, 9]],
    [[26, 1, 108], [24, 2, 43], [18, 2, 15, 2, 16], [22, 2, 11, 2, 12]],   // 5
    [[18, 2, 68], [16, 4, 27], [24, 4, 19], [28, 4, 15]],
    [[20, 2, 78], [18, 4, 31], [18, 2, 14, 4, 15], [26, 4, 13, 1, 14]],
    [[24, 2, 97], [22, 2, 38, 2, 39], [22, 4, 18, 2, 19], [26, 4, 14, 2, 15]],
    [[30, 2, 116], [22, 3, 36, 2, 37], [20, 4, 16, 4, 17], [24, 4, 12, 4, 13]],
    [[18, 2, 68, 2, 69], [26, 4, 43, 1, 44], [24, 6, 19, 2, 20], [28, 6, 15, 2, 16]],   // 10
    [[20, 4, 81], [30, 1, 50, 4, 51], [28, 4, 22, 4, 23], [24, 3, 12, 8, 13]],
    [[24, 2, 92, 2, 93], [22, 6, 36, 2, 37], [26, 4, 20, 6, 21], [28, 7, 14, 4, 15]],
    [[26, 4, 107], [22, 8, 37, 1, 38], [24, 8, 20, 4, 21], [22, 12, 11, 4, 12]],
    [[30, 3, 115, 1, 116], [24, 4, 40, 5, 41], [20, 11, 16, 5, 17], [24, 11, 12, 5, 13]],
    [[22, 5, 87, 1, 88], [24, 5, 41, 5, 42], [30, 5, 24, 7, 25], [24, 11, 12, 7, 13]],   // 15
    [[24, 5, 98, 1, 99], [28, 7, 45, 3, 46], [24, 15, 19, 2, 20], [30, 3, 15, 13, 16]],
    [[28, 1, 107, 5, 108], [28, 10, 46, 1, 47], [28, 1, 22, 15, 23], [28, 2, 14, 17, 15]],
    [[30, 5, 120, 1, 121], [26, 9, 43, 4, 44], [28, 17, 22, 1, 23], [28, 2, 14, 19, 15]],
    [[28, 3, 113, 4, 114], [26, 3, 44, 11, 45], [26, 17, 21, 4, 22], [26, 9, 13, 16, 14]],
    [[28, 3, 107, 5, 108], [26, 3, 41, 13, 42], [30, 15, 24, 5, 25], [28, 15, 15, 10, 16]],   // 20
    [[28, 4, 116, 4, 117], [26, 17, 42], [28, 17, 22, 6, 23], [30, 19, 16, 6, 17]],
    [[28, 2, 111, 7, 112], [28, 17, 46], [30, 7, 24, 16, 25], [24, 34, 13]],
    [[30, 4, 121, 5, 122], [28, 4, 47, 14, 48], [30, 11, 24, 14, 25], [30, 16, 15, 14, 16]],
    [[30, 6, 117, 4, 118], [28, 6, 45, 14, 46], [30, 11, 24, 16, 25], [30, 30, 16, 2, 17]],
    [[26, 8, 106, 4, 107], [28, 8, 47, 13, 48], [30, 7, 24, 22, 25], [30, 22, 15, 13, 16]],   // 25
    [[28, 10, 114, 2, 115], [28, 19, 46, 4, 47], [28, 28, 22, 6, 23], [30, 33, 16, 4, 17]],
    [[30, 8, 122, 4, 123], [28, 22, 45, 3, 46], [30, 8, 23, 26, 24], [30, 12, 15, 28, 16]],
    [[30, 3, 117, 10, 118], [28, 3, 45, 23, 46], [30, 4, 24, 31, 25], [30, 11, 15, 31, 16]],
    [[30, 7, 116, 7, 117], [28, 21, 45, 7, 46], [30, 1, 23, 37, 24], [30, 19, 15, 26, 16]],
    [[30, 5, 115, 10, 116], [28, 19, 47, 10, 48], [30, 15, 24, 25, 25], [30, 23, 15, 25, 16]],   // 30
    [[30, 13, 115, 3, 116], [28, 2, 46, 29, 47], [30, 42, 24, 1, 25], [30, 23, 15, 28, 16]],
    [[30, 17, 115], [28, 10, 46, 23, 47], [30, 10, 24, 35, 25], [30, 19, 15, 35, 16]],
    [[30, 17, 115, 1, 116], [28, 14, 46, 21, 47], [30, 29, 24, 19, 25], [30, 11, 15, 46, 16]],
    [[30, 13, 115, 6, 116], [28, 14, 46, 23, 47], [30, 44, 24, 7, 25], [30, 59, 16, 1, 17]],
    [[30, 12, 121, 7, 122], [28, 12, 47, 26, 48], [30, 39, 24, 14, 25], [30, 22, 15, 41, 16]],   // 35
    [[30, 6, 121, 14, 122], [28, 6, 47, 34, 48], [30, 46, 24, 10, 25], [30, 2, 15, 64, 16]],
    [[30, 17, 122, 4, 123], [28, 29, 46, 14, 47], [30, 49, 24, 10, 25], [30, 24, 15, 46, 16]],
    [[30, 4, 122, 18, 123], [28, 13, 46, 32, 47], [30, 48, 24, 14, 25], [30, 42, 15, 32, 16]],
    [[30, 20, 117, 4, 118], [28, 40, 47, 7, 48], [30, 43, 24, 22, 25], [30, 10, 15, 67, 16]],
    [[30, 19, 118, 6, 119], [28, 18, 47, 31, 48], [30, 34, 24, 34, 25], [30, 20, 15, 61, 16]],   // 40
  ];
  const LEVEL_INDEX = { L: 0, M: 1, Q: 2, H: 3 };
  // Misdecode protection (table 9's "p"): codewords of the small versions kept for detection only.
  const PROTECTION = { "1L": 3, "1M": 2, "1Q": 1, "1H": 1, "2L": 2, "3L": 1 };

  /* Alignment pattern centres (rows = columns), from 6 to size-7 in even, equal steps but the
     first (annex E); version 32 is the one whose step the rule rounds the other way. */
  function alignmentPositions(version) {
    if (version < 2) return [];
    const n = Math.floor(version / 7) + 2;
    const last = 4 * version + 10;
    const step = version === 32 ? 26 : Math.ceil((last - 6) / (n - 1) / 2) * 2;
    const out = [6];
    for (let k = n - 2; k >= 0; k--) out.push(last - k * step);
    return out;
  }

  /* 1 where a module is part of a function pattern (finders with their separators, timing,
     alignment, format and version information, the dark module), 0 where it carries data. */
  const FUNCTION_MASKS = new Map();
  function functionMask(version) {
    if (!FUNCTION_MASKS.has(version)) FUNCTION_MASKS.set(version, makeFunctionMask(version));
    return FUNCTION_MASKS.get(version);
  }

  function makeFunctionMask(version) {
    const size = 4 * version + 17;
    const fn = new Uint8Array(size * size);
    const fill = (r0, c0, h, w) => {
      for (let r = Math.max(0, r0); r < Math.min(size, r0 + h); r++) {
        for (let c = Math.max(0, c0); c < Math.min(size, c0 + w); c++) fn[r * size + c] = 1;
      }
    };
    fill(0, 0, 9, 9);
    fill(0, size - 8, 9, 8);
    fill(size - 8, 0, 8, 9);
    fill(6, 0, 1, size);
    fill(0, 6, size, 1);
    const pos = alignmentPositions(version);
    for (const r of pos) {
      for (const c of pos) {
        const nearFinder = (r === 6 && c === 6) || (r === 6 && c === size - 7) || (r === size - 7 && c === 6);
        if (!nearFinder) fill(r - 2, c - 2, 5, 5);
      }
    }
    if (version >= 7) {
      fill(0, size - 11, 6, 3);
      fill(size - 11, 0, 3, 6);
    }
    return fn;
  }

  const MASKS = [
    (r, c) => (r + c) % 2 === 0,
    (r) => r % 2 === 0,
    (r, c) => c % 3 === 0,
    (r, c) => (r + c) % 3 === 0,
    (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
    (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
    (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
    (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
  ];

  // Format information: bit i (0 = least significant) of the 15, as [row, column] for each copy.
  function formatPositions(size) {
    const first = [];
    const second = [];
    for (let i = 0; i < 15; i++) {
      if (i < 6) first.push([i, 8]);
      else if (i < 8) first.push([i + 1, 8]);
      else if (i === 8) first.push([8, 7]);
      else first.push([8, 14 - i]);
      if (i < 8) second.push([8, size - 1 - i]);
      else second.push([size - 15 + i, 8]);
    }
    return [first, second];
  }

  // Version information: bit i of the 18, [row, column] in the top-right and bottom-left blocks.
  function versionPositions(size) {
    const tr = [];
    const bl = [];
    for (let i = 0; i < 18; i++) {
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      tr.push([b, a]);
      bl.push([a, b]);
    }
    return [tr, bl];
  }

  function readBits(get, positions) {
    let v = 0;
    positions.forEach(([r, c], i) => { if (get(r, c)) v |= 1 << i; });
    return v;
  }

  class ReadError extends Error {}

  /* A symbol's modules (get(row, column) -> true for dark) to its decoded content:
     {text, version, level, mask, corrected}. Throws ReadError when it cannot be read. */
  function decodeModules(get, version, formatHint) {
    const size = 4 * version + 17;
    const formats = formatPositions(size).map((p) => decodeFormat(readBits(get, p))).filter(Boolean);
    if (formatHint) formats.push(formatHint);
    if (!formats.length) throw new ReadError("format information unreadable");
    formats.sort((a, b) => a.distance - b.distance);
    const { level, mask } = formats[0];
    try {
      return readData(get, version, level, mask);
    } catch (e) {
      if (e instanceof ReadError) e.seen = { version, level };
      throw e;
    }
  }

  function readData(get, version, level, mask) {
    const size = 4 * version + 17;
    const fn = functionMask(version);
    const masked = MASKS[mask];
    // The zigzag: column pairs from the right, up then down, the timing column skipped.
    const total = totalCodewords(version);
    const codewords = new Uint8Array(total);
    let bit = 0;
    let upward = true;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let k = 0; k < size; k++) {
        const r = upward ? size - 1 - k : k;
        for (let j = 0; j < 2; j++) {
          const c = right - j;
          if (fn[r * size + c]) continue;
          if (bit < total * 8) {
            const dark = Boolean(get(r, c)) !== masked(r, c);
            if (dark) codewords[bit >> 3] |= 0x80 >> (bit & 7);
          }
          bit++;
        }
      }
      upward = !upward;
    }
    const { data, corrected } = correctBlocks(codewords, version, level);
    return { text: parseSegments(data, version), version, level, mask, corrected };
  }

  function totalCodewords(version) {
    const [ec, ...groups] = EC_BLOCKS[version - 1][0];
    let total = 0;
    for (let g = 0; g < groups.length; g += 2) total += groups[g] * (groups[g + 1] + ec);
    return total;
  }

  /* De-interleave the codewords into their blocks and correct each; the data codewords in order. */
  function correctBlocks(codewords, version, level) {
    const [ec, ...groups] = EC_BLOCKS[version - 1][LEVEL_INDEX[level]];
    const sizes = [];
    for (let g = 0; g < groups.length; g += 2) {
      for (let k = 0; k < groups[g]; k++) sizes.push(groups[g + 1]);
    }
    const blocks = sizes.map((s) => new Uint8Array(s + ec));
    let at = 0;
    const longest = Math.max(...sizes);
    for (let i = 0; i < longest; i++) {
      sizes.forEach((s, b) => { if (i < s) blocks[b][i] = codewords[at++]; });
    }
    for (let i = 0; i < ec; i++) {
      sizes.forEach((s, b) => { blocks[b][s + i] = codewords[at++]; });
    }
    const p = PROTECTION[`${version}${level}`] || 0;
    const maxErrors = Math.floor((ec - p) / 2);
    let corrected = 0;
    const data = [];
    blocks.forEach((block, b) => {
      const fixed = rsDecode(block, ec, maxErrors);
      if (fixed < 0) throw new ReadError("too many errors for Reed-Solomon");
      corrected += fixed;
      for (let i = 0; i < sizes[b]; i++) data.push(block[i]);
    });
    return { data, corrected };
  }

  // --- the bit stream -------------------------------------------------------------------------

  const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const ECI_CHARSETS = {
    1: "iso-8859-1", 3: "iso-8859-1", 4: "iso-8859-2", 5: "iso-8859-3", 6: "iso-8859-4", 7: "iso-8859-5",
    8: "iso-8859-6", 9: "iso-8859-7", 10: "iso-8859-8", 11: "windows-874", 13: "iso-8859-11",
    15: "iso-8859-13", 17: "iso-8859-15", 20: "shift_jis", 21: "windows-1250", 22: "windows-1251",
    23: "windows-1252", 24: "windows-1256", 26: "utf-8", 28: "big5", 29: "gb18030", 30: "euc-kr",
  };

  function countBits(mode, version) {
    const size = version <= 9 ? 0 : version <= 26 ? 1 : 2;
    return { 1: [10, 12, 14], 2: [9, 11, 13], 4: [8, 16, 16], 8: [8, 10, 12] }[mode][size];
  }

  function decodeBytes(bytes, charset) {
    const u8 = Uint8Array.from(bytes);
    if (charset) {
      try { return new TextDecoder(charset).decode(u8); } catch (e) { /* unknown label: guess */ }
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(u8);
    } catch (e) {
      return String.fromCharCode(...u8);       // ISO-8859-1, the standard's default
    }
  }

  function parseSegments(data, version) {
    let pos = 0;
    const bitsLeft = () => data.length * 8 - pos;
    const read = (n) => {
      if (n > bitsLeft()) throw new ReadError("bit stream ends inside a segment");
      let v = 0;
      for (let i = 0; i < n; i++, pos++) v = (v << 1) | ((data[pos >> 3] >> (7 - (pos & 7))) & 1);
      return v;
    };
    let text = "";
    let charset = null;
    while (bitsLeft() >= 4) {
      const mode = read(4);
      if (mode === 0) break;
      if (mode === 1) {
        let n = read(countBits(1, version));
        for (; n >= 3; n -= 3) {
          const v = read(10);
          if (v > 999) throw new ReadError("numeric value out of range");
          text += String(v).padStart(3, "0");
        }
        if (n === 2) {
          const v = read(7);
          if (v > 99) throw new ReadError("numeric value out of range");
          text += String(v).padStart(2, "0");
        } else if (n === 1) {
          const v = read(4);
          if (v > 9) throw new ReadError("numeric value out of range");
          text += String(v);
        }
      } else if (mode === 2) {
        let n = read(countBits(2, version));
        for (; n >= 2; n -= 2) {
          const v = read(11);
          if (v >= 45 * 45) throw new ReadError("alphanumeric value out of range");
          text += ALNUM[Math.floor(v / 45)] + ALNUM[v % 45];
        }
        if (n === 1) {
          const v = read(6);
          if (v >= 45) throw new ReadError("alphanumeric value out of range");
          text += ALNUM[v];
        }
      } else if (mode === 4) {
        const n = read(countBits(4, version));
        const bytes = [];
        for (let i = 0; i < n; i++) bytes.push(read(8));
        text += decodeBytes(bytes, charset);
      } else if (mode === 8) {
        const n = read(countBits(8, version));
        const bytes = [];
        for (let i = 0; i < n; i++) {
          const v = read(13);
          const w = Math.floor(v / 0xc0) * 0x100 + (v % 0xc0);
          const sj = w + (w < 0x1f00 ? 0x8140 : 0xc140);
          bytes.push(sj >> 8, sj & 0xff);
        }
        text += decodeBytes(bytes, "shift_jis");
      } else if (mode === 7) {
        let v = read(8);
        if ((v & 0x80) === 0) { /* one byte */ } else if ((v & 0xc0) === 0x80) v = ((v & 0x3f) << 8) | read(8);
        else if ((v & 0xe0) === 0xc0) v = ((v & 0x1f) << 16) | read(16);
        else throw new ReadError("bad ECI designator");
        charset = ECI_CHARSETS[v] || null;
      } else if (mode === 3) {
        read(16);                              // structured append: position, count, parity
      } else if (mode === 5) {
        // FNC1 in the first position: GS1 data follows in the ordinary modes
      } else if (mode === 9) {
        read(8);                               // FNC1 in the second position: its application indicator
      } else {
        throw new ReadError(`unknown mode ${mode}`);
      }
    }
    return text;
  }

  // --- geometry -------------------------------------------------------------------------------

  /* The projective map taking four source points to four destination points:
     (x, y) -> ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)). */
  function homography(src, dst) {
    const A = [];
    for (let i = 0; i < 4; i++) {
      const [x, y] = src[i];
      const [u, v] = dst[i];
      A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
      A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
    }
    for (let col = 0; col < 8; col++) {           // Gaussian elimination, partial pivoting
      let pivot = col;
      for (let r = col + 1; r < 8; r++) if (Math.abs(A[r][col]) > Math.abs(A[pivot][col])) pivot = r;
      if (Math.abs(A[pivot][col]) < 1e-12) return null;
      [A[col], A[pivot]] = [A[pivot], A[col]];
      for (let r = 0; r < 8; r++) {
        if (r === col) continue;
        const f = A[r][col] / A[col][col];
        if (f) for (let k = col; k < 9; k++) A[r][k] -= f * A[col][k];
      }
    }
    const h = A.map((row, i) => row[8] / row[i]);
    return (x, y) => {
      const w = h[6] * x + h[7] * y + 1;
      return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
    };
  }

  // The affine map taking three source points to three destination points.
  function affine(src, dst) {
    const [[x0, y0], [x1, y1], [x2, y2]] = src;
    const det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
    if (Math.abs(det) < 1e-12) return null;
    const solve = (k) => {
      const [p0, p1, p2] = dst.map((d) => d[k]);
      const a = ((p1 - p0) * (y2 - y0) - (p2 - p0) * (y1 - y0)) / det;
      const b = ((x1 - x0) * (p2 - p0) - (x2 - x0) * (p1 - p0)) / det;
      return [a, b, p0 - a * x0 - b * y0];
    };
    const [a, b, c] = solve(0);
    const [d, e, f] = solve(1);
    return (x, y) => [a * x + b * y + c, d * x + e * y + f];
  }

  const dist = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);

  // --- the image ------------------------------------------------------------------------------

  function greyOf(image) {
    const { width, height, data } = image;
    if (data.length === width * height) return Uint8Array.from(data);
    const grey = new Uint8Array(width * height);
    for (let i = 0, j = 0; i < grey.length; i++, j += 4) {
      grey[i] = (data[j] * 77 + data[j + 1] * 150 + data[j + 2] * 29) >> 8;
    }
    return grey;
  }

  const BLOCK = 8;
  const MIN_CONTRAST = 24;

  /* The adaptive threshold (1 = dark). See the header, step 1. */
  function binarize(grey, width, height) {
    const bw = Math.ceil(width / BLOCK);
    const bh = Math.ceil(height / BLOCK);
    const mid = new Float32Array(bw * bh);
    const flat = new Uint8Array(bw * bh);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        let lo = 255;
        let hi = 0;
        const y1 = Math.min(height, (by + 1) * BLOCK);
        const x1 = Math.min(width, (bx + 1) * BLOCK);
        for (let y = by * BLOCK; y < y1; y++) {
          for (let i = y * width + bx * BLOCK, end = y * width + x1; i < end; i++) {
            const v = grey[i];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
        }
        mid[by * bw + bx] = (lo + hi) / 2;
        flat[by * bw + bx] = hi - lo < MIN_CONTRAST ? 1 : 0;
      }
    }
    // A block with contrast: the mean of the mid-ranges of the blocks with contrast among the
    // 5x5 around it. Mid-ranges, not means, and blank blocks left out: a thin light line (the
    // ring of a finder next to its quiet zone, blurred) stays lighter than the threshold.
    const thr = new Float32Array(bw * bh).fill(-1);
    const queue = [];
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        const b = by * bw + bx;
        if (flat[b]) continue;
        let sum = 0;
        let n = 0;
        for (let y = Math.max(0, by - 2); y <= Math.min(bh - 1, by + 2); y++) {
          for (let x = Math.max(0, bx - 2); x <= Math.min(bw - 1, bx + 2); x++) {
            if (flat[y * bw + x]) continue;
            sum += mid[y * bw + x];
            n++;
          }
        }
        thr[b] = sum / n;
        queue.push(b);
      }
    }
    // A flat block: the threshold of the nearest block with contrast (breadth first).
    for (let qi = 0; qi < queue.length; qi++) {
      const b = queue[qi];
      const bx = b % bw;
      const by = (b - bx) / bw;
      const next = [bx > 0 ? b - 1 : -1, bx < bw - 1 ? b + 1 : -1, by > 0 ? b - bw : -1, by < bh - 1 ? b + bw : -1];
      for (const o of next) {
        if (o >= 0 && thr[o] < 0) {
          thr[o] = thr[b];
          queue.push(o);
        }
      }
    }
    const bin = new Uint8Array(width * height);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        const t = thr[by * bw + bx];        // -1 when the whole image is flat: all light
        const y1 = Math.min(height, (by + 1) * BLOCK);
        const x1 = Math.min(width, (bx + 1) * BLOCK);
        for (let y = by * BLOCK; y < y1; y++) {
          for (let i = y * width + bx * BLOCK, end = y * width + x1; i < end; i++) bin[i] = grey[i] <= t ? 1 : 0;
        }
      }
    }
    return bin;
  }

  class Bitmap {
    constructor(bin, width, height, grey = null) {
      this.bin = bin;
      this.width = width;
      this.height = height;
      this.grey = grey;
    }

    // The grey level at (x, y), interpolated between the four pixels around it.
    level(x, y) {
      const { grey, width, height } = this;
      const fx = Math.min(Math.max(x - 0.5, 0), width - 1.001);
      const fy = Math.min(Math.max(y - 0.5, 0), height - 1.001);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const ax = fx - x0;
      const ay = fy - y0;
      const i = y0 * width + x0;
      const top = grey[i] * (1 - ax) + grey[i + 1] * ax;
      const bottom = grey[i + width] * (1 - ax) + grey[i + width + 1] * ax;
      return top * (1 - ay) + bottom * ay;
    }

    dark(x, y) {
      const xi = Math.floor(x);
      const yi = Math.floor(y);
      if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return false;
      return this.bin[yi * this.width + xi] === 1;
    }

    /* Runs along a ray from (x, y) in direction (dx, dy): the lengths of the first `count` runs
       (the first of the colour at the start), each at most `limit` steps. */
    runs(x, y, dx, dy, count, limit) {
      const out = [];
      let colour = this.dark(x, y);
      let len = 0;
      for (let step = 0; out.length < count; step++) {
        const px = x + dx * step;
        const py = y + dy * step;
        if (px < 0 || py < 0 || px >= this.width || py >= this.height) return null;
        const d = this.dark(px, py);
        if (d === colour) {
          len++;
          if (len > limit) return null;
        } else {
          out.push(len);
          colour = d;
          len = 1;
        }
      }
      return out;
    }

    /* The 4-connected component of the colour at (x, y), within `radius` of (ox, oy) (default:
       of (x, y)): {area, cx, cy}, or null when it reaches that far (not an isolated blob). */
    blob(x, y, radius, ox = x, oy = y) {
      const sx0 = Math.floor(x);
      const sy0 = Math.floor(y);
      if (sx0 < 0 || sy0 < 0 || sx0 >= this.width || sy0 >= this.height) return null;
      const { bin, width, height } = this;
      const x0 = Math.floor(ox);
      const y0 = Math.floor(oy);
      const lim = Math.max(1, Math.ceil(radius));
      const side = 2 * lim + 1;
      const seen = new Uint8Array(side * side);        // the window around (x0, y0)
      const colour = bin[sy0 * width + sx0];
      const stack = [sx0, sy0];
      if (Math.abs(sx0 - x0) > lim || Math.abs(sy0 - y0) > lim) return null;
      seen[(sy0 - y0 + lim) * side + sx0 - x0 + lim] = 1;
      let area = 0;
      let sx = 0;
      let sy = 0;
      while (stack.length) {
        const py = stack.pop();
        const px = stack.pop();
        area++;
        sx += px;
        sy += py;
        for (let k = 0; k < 4; k++) {
          const nx = px + (k === 0 ? -1 : k === 1 ? 1 : 0);
          const ny = py + (k === 2 ? -1 : k === 3 ? 1 : 0);
          if (nx < 0 || ny < 0 || nx >= width || ny >= height || bin[ny * width + nx] !== colour) continue;
          const wx = nx - x0 + lim;
          const wy = ny - y0 + lim;
          if (wx < 0 || wy < 0 || wx >= side || wy >= side) return null;
          if (seen[wy * side + wx]) continue;
          seen[wy * side + wx] = 1;
          stack.push(nx, ny);
        }
      }
      return { area, cx: sx / area + 0.5, cy: sy / area + 0.5 };
    }
  }

  // --- finder patterns ------------------------------------------------------------------------

  const MAX_FINDERS = 90;

  // Five runs dark, light, dark, light, dark in the ratio 1:1:3:1:1 (loosely: photos blur them).
  function finderRatio(r) {
    const total = r[0] + r[1] + r[2] + r[3] + r[4];
    if (total < 7) return 0;
    const u = total / 7;
    const tol = u * 0.8;
    if (Math.abs(r[0] - u) > tol || Math.abs(r[1] - u) > tol || Math.abs(r[3] - u) > tol
        || Math.abs(r[4] - u) > tol || Math.abs(r[2] - 3 * u) > 3 * tol) return 0;
    return total;
  }

  /* Runs through (x, y) along (dx, dy) both ways: the five runs and where the centre run's
     middle lies (as a step count from (x, y) along the direction), or null. */
  function crossRuns(bm, x, y, dx, dy, limit) {
    if (!bm.dark(x, y)) return null;
    const fwd = bm.runs(x, y, dx, dy, 3, limit);
    const back = bm.runs(x, y, -dx, -dy, 3, limit);
    if (!fwd || !back) return null;
    const runs = [back[2], back[1], back[0] + fwd[0] - 1, fwd[1], fwd[2]];
    const total = finderRatio(runs);
    if (!total) return null;
    return { runs, total, centre: (fwd[0] - back[0]) / 2 };
  }

  function findFinders(bm) {
    const { width, height, bin } = bm;
    const found = [];
    const runs = [];
    for (let y = 0; y < height; y++) {
      runs.length = 0;
      const row = y * width;
      let start = 0;
      for (let x = 1; x <= width; x++) {
        if (x === width || bin[row + x] !== bin[row + x - 1]) {
          runs.push(start, x - start, bin[row + start]);
          start = x;
        }
      }
      for (let k = 0; k + 15 <= runs.length; k += 3) {
        if (runs[k + 2] !== 1) continue;
        const r = [runs[k + 1], runs[k + 4], runs[k + 7], runs[k + 10], runs[k + 13]];
        const total = finderRatio(r);
        if (!total) continue;
        const cx = runs[k + 6] + runs[k + 7] / 2;
        const candidate = confirmFinder(bm, cx, y + 0.5, total);
        if (candidate) addCandidate(found, candidate);
      }
    }
    const finders = found.filter((f) => f.count >= 2).map((f) => refineFinder(bm, f)).filter(Boolean);
    // Three at a time is cubic: a page of ours has a dozen; keep the best seen ones of a busier photo.
    return finders.sort((a, b) => b.count - a.count).slice(0, MAX_FINDERS);
  }

  function confirmFinder(bm, x, y, total) {
    const limit = total * 1.5;
    const v = crossRuns(bm, x, y, 0, 1, limit);
    if (!v || v.total < total * 0.4 || v.total > total * 2.5) return null;
    const cy = y + v.centre;
    const h = crossRuns(bm, x, cy, 1, 0, limit);
    if (!h) return null;
    const cx = x + h.centre;
    const d = crossRuns(bm, cx, cy, 1, 1, limit) || crossRuns(bm, cx, cy, 1, -1, limit);
    if (!d) return null;
    return { x: cx, y: cy, size: (h.total + v.total) / 14, count: 1 };
  }

  function addCandidate(found, c) {
    for (const f of found) {
      if (Math.abs(f.x - c.x) <= f.size * 1.5 && Math.abs(f.y - c.y) <= f.size * 1.5
          && c.size < f.size * 2 && f.size < c.size * 2) {
        const n = f.count;
        f.x = (f.x * n + c.x) / (n + 1);
        f.y = (f.y * n + c.y) / (n + 1);
        f.size = (f.size * n + c.size) / (n + 1);
        f.count = n + 1;
        return;
      }
    }
    found.push(c);
  }

  /* The centroid of the dark 3x3 centre; the module size from the area inside the dark ring
     (the light ring and the centre: 25 modules), which rotation does not change. Null unless
     the centre is a dark blob on its own inside a closed light ring with about the areas of
     9 and 16 modules: what tells a finder from a 1:1:3:1:1 run in the data. */
  function refineFinder(bm, f) {
    const centre = bm.blob(f.x, f.y, f.size * 3);
    if (!centre) return null;
    let x = centre.cx;
    while (bm.dark(x, centre.cy) && x < centre.cx + f.size * 4) x += 1;
    const ring = bm.blob(x, centre.cy, f.size * 4.5, centre.cx, centre.cy);
    if (!ring) return null;
    const ratio = ring.area / centre.area;
    const module = Math.sqrt(ring.area + centre.area) / 5;
    if (ratio < 0.8 || ratio > 4 || module < f.size * 0.5 || module > f.size * 1.5) return null;
    // The light ring is centred on the centre too (a C-shaped light region is not).
    if (Math.hypot(ring.cx - centre.cx, ring.cy - centre.cy) > module) return null;
    return { x: centre.cx, y: centre.cy, module, count: f.count };
  }

  // --- from three finders to a symbol --------------------------------------------------------

  /* Triples of finders that could be one symbol, best first: {tl, tr, bl, score}. */
  function symbolCandidates(finders) {
    const out = [];
    const n = finders.length;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        for (let k = j + 1; k < n; k++) {
          const three = [finders[i], finders[j], finders[k]];
          const sizes = three.map((f) => f.module);
          if (Math.max(...sizes) > Math.min(...sizes) * 1.6) continue;
          // The right angle is opposite the longest side.
          const sides = [0, 1, 2].map((a) => dist(pt(three[(a + 1) % 3]), pt(three[(a + 2) % 3])));
          const a = sides.indexOf(Math.max(...sides));
          const tl = three[a];
          let p = three[(a + 1) % 3];
          let q = three[(a + 2) % 3];
          const u = [p.x - tl.x, p.y - tl.y];
          const w = [q.x - tl.x, q.y - tl.y];
          const lu = Math.hypot(...u);
          const lw = Math.hypot(...w);
          if (lu > lw * 2 || lw > lu * 2) continue;
          const cos = (u[0] * w[0] + u[1] * w[1]) / (lu * lw);
          if (Math.abs(cos) > 0.6) continue;
          const module = (sizes[0] + sizes[1] + sizes[2]) / 3;
          const modules = (lu + lw) / 2 / module + 7;
          if (modules < 17 || modules > 200) continue;
          // Symbol x runs from TL to TR, y from TL to BL: a clockwise turn in image coordinates.
          if (u[0] * w[1] - u[1] * w[0] < 0) [p, q] = [q, p];
          const score = Math.abs(cos) + Math.abs(lu - lw) / Math.max(lu, lw)
            + (Math.max(...sizes) - Math.min(...sizes)) / module;
          out.push({ tl, tr: p, bl: q, score, modules });
        }
      }
    }
    return out.sort((s, t) => s.score - t.score);
  }

  const pt = (f) => [f.x, f.y];

  /* Module colour sampled at symbol coordinates (x = column, y = row; module centres at +0.5). */
  function sampler(bm, map) {
    return (r, c) => {
      const [x, y] = map(c + 0.5, r + 0.5);
      return bm.dark(x, y);
    };
  }

  /* The modules by their own grey levels: each module's centre compared with a threshold between
     the dark and the light modules of the 7x7 around it (one step of two-means from their mean).
     Blur lowers a module's contrast with its neighbours; this follows it module by module.
     With `equalise`, then: blur also spreads each module into its neighbours (a lone dark module
     among light ones comes out grey), so the level of a module is modelled as a + b*own +
     c*(dark 4-neighbours) + d*(dark diagonal neighbours), fitted by least squares over the
     symbol, and each module decided again given its neighbours, a few rounds. */
  function levelSampler(bm, map, size, equalise = false) {
    const v = new Float32Array(size * size);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const [x, y] = map(c + 0.5, r + 0.5);
        v[r * size + c] = bm.level(x, y);
      }
    }
    const u = new Float32Array(size * size);        // 0 as dark as the dark around, 1 as light
    const dark = new Uint8Array(size * size);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const r0 = Math.max(0, r - 3);
        const r1 = Math.min(size - 1, r + 3);
        const c0 = Math.max(0, c - 3);
        const c1 = Math.min(size - 1, c + 3);
        let sum = 0;
        let n = 0;
        for (let i = r0; i <= r1; i++) for (let j = c0; j <= c1; j++) { sum += v[i * size + j]; n++; }
        const mean = sum / n;
        let lo = 0;
        let nlo = 0;
        let hi = 0;
        let nhi = 0;
        for (let i = r0; i <= r1; i++) {
          for (let j = c0; j <= c1; j++) {
            const x = v[i * size + j];
            if (x < mean) { lo += x; nlo++; } else { hi += x; nhi++; }
          }
        }
        const a = nlo ? lo / nlo : mean;
        const b = nhi ? hi / nhi : mean;
        u[r * size + c] = b - a > 1 ? (v[r * size + c] - a) / (b - a) : 0.5;
        dark[r * size + c] = u[r * size + c] < 0.5 ? 1 : 0;
      }
    }
    if (equalise) equaliseModules(u, dark, size);
    return (r, c) => dark[r * size + c] === 1;
  }

  function equaliseModules(u, dark, size) {
    const at = (r, c) => (r < 0 || c < 0 || r >= size || c >= size ? 0 : dark[r * size + c]);
    const neighbours = (r, c) => [at(r - 1, c) + at(r + 1, c) + at(r, c - 1) + at(r, c + 1),
      at(r - 1, c - 1) + at(r - 1, c + 1) + at(r + 1, c - 1) + at(r + 1, c + 1)];
    for (let round = 0; round < 3; round++) {
      // Least squares for (a, b, c, d): the 4x4 normal equations.
      const M = Array.from({ length: 4 }, () => new Float64Array(5));
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const [n4, d4] = neighbours(r, c);
          const f = [1, dark[r * size + c], n4, d4];
          const y = u[r * size + c];
          for (let i = 0; i < 4; i++) {
            for (let j = 0; j < 4; j++) M[i][j] += f[i] * f[j];
            M[i][4] += f[i] * y;
          }
        }
      }
      const k = solve4(M);
      if (!k || k[1] > -0.2) return;                 // no sensible model: keep the plain decision
      let changed = 0;
      const next = new Uint8Array(dark);
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const [n4, d4] = neighbours(r, c);
          const light = k[0] + k[2] * n4 + k[3] * d4;        // the level expected if light
          const d = u[r * size + c] < light + k[1] / 2 ? 1 : 0;
          if (d !== dark[r * size + c]) changed++;
          next[r * size + c] = d;
        }
      }
      dark.set(next);
      if (!changed) return;
    }
  }

  function solve4(M) {
    for (let col = 0; col < 4; col++) {
      let pivot = col;
      for (let r = col + 1; r < 4; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
      if (Math.abs(M[pivot][col]) < 1e-9) return null;
      [M[col], M[pivot]] = [M[pivot], M[col]];
      for (let r = 0; r < 4; r++) {
        if (r === col) continue;
        const f = M[r][col] / M[col][col];
        for (let k = col; k < 5; k++) M[r][k] -= f * M[col][k];
      }
    }
    return M.map((row, i) => row[4] / row[i]);
  }

  /* The version: from the version information near TR and BL (version 7 on), else from the
     finders' distance. Candidates in the order to try. */
  function versionCandidates(bm, cand) {
    const guess = Math.round((cand.modules - 17) / 4);
    const out = [];
    if (guess >= 6) {
      for (const v of [guess, guess - 1, guess + 1]) {
        if (v < 7 || v > 40) continue;
        const size = 4 * v + 17;
        const map = affine([[3.5, 3.5], [size - 3.5, 3.5], [3.5, size - 3.5]], [pt(cand.tl), pt(cand.tr), pt(cand.bl)]);
        if (!map) continue;
        const get = sampler(bm, map);
        for (const positions of versionPositions(size)) {
          const read = decodeVersion(readBits(get, positions));
          if (read && !out.includes(read.version)) out.push(read.version);
        }
      }
    }
    for (const d of [0, -1, 1, -2, 2]) {
      const v = Math.min(40, Math.max(1, guess + d));
      if (!out.includes(v)) out.push(v);
    }
    return out;
  }

  /* Where the alignment pattern centred near symbol point (sx, sy) is in the image: the best
     match of its 5x5 modules within `radius` modules of there, then the centroid of its dark
     centre. Null when nothing matches well enough. */
  function findAlignment(bm, map, sx, sy, radius, moduleSize) {
    let best = null;
    const step = 0.25;
    for (let dy = -radius; dy <= radius; dy += step) {
      for (let dx = -radius; dx <= radius; dx += step) {
        let score = 0;
        for (let r = -2; r <= 2; r++) {
          for (let c = -2; c <= 2; c++) {
            const want = Math.max(Math.abs(r), Math.abs(c)) !== 1;
            const [x, y] = map(sx + dx + c, sy + dy + r);
            if (bm.dark(x, y) === want) score++;
          }
        }
        const off = dx * dx + dy * dy;
        if (!best || score > best.score || (score === best.score && off < best.off)) best = { score, off, dx, dy };
      }
    }
    if (!best || best.score < 22) return null;
    const [x, y] = map(sx + best.dx, sy + best.dy);
    const blob = bm.blob(x, y, moduleSize * 1.6);
    if (blob && bm.dark(x, y) && blob.area < moduleSize * moduleSize * 3) return [blob.cx, blob.cy];
    return [x, y];
  }

  /* The maps to sample a symbol of `version` with, best first. */
  function symbolMaps(bm, cand, version) {
    const size = 4 * version + 17;
    const src = [[3.5, 3.5], [size - 3.5, 3.5], [3.5, size - 3.5]];
    const dst = [pt(cand.tl), pt(cand.tr), pt(cand.bl)];
    const flat = affine(src, dst);
    if (!flat) return [];
    const maps = [];
    const moduleSize = (cand.tl.module + cand.tr.module + cand.bl.module) / 3;
    if (version >= 2) {
      const a = size - 6.5;
      let br = null;
      for (const radius of [3, 6, 10]) {
        br = findAlignment(bm, flat, a, a, Math.min(radius, size / 6), moduleSize);
        if (br) break;
      }
      if (br) {
        const h = homography([...src, [a, a]], [...dst, br]);
        if (h) {
          const mesh = alignmentMesh(bm, h, version, moduleSize, src, dst);
          if (mesh) maps.push(mesh);
          maps.push(h);
        }
      }
    }
    maps.push(flat);
    return maps;
  }

  /* Every alignment pattern found near where `h` puts it; each cell of the grid they make is
     mapped by its own homography. The three grid corners under the finders are the finders. */
  function alignmentMesh(bm, h, version, moduleSize, finderSrc, finderDst) {
    const pos = alignmentPositions(version);
    if (pos.length < 3) return null;
    const n = pos.length;
    const src = [];
    const dst = [];
    for (let i = 0; i < n; i++) {
      src.push([]);
      dst.push([]);
      for (let j = 0; j < n; j++) {
        const sx = pos[j] + 0.5;
        const sy = pos[i] + 0.5;
        if (i === 0 && j === 0) { src[i].push(finderSrc[0]); dst[i].push(finderDst[0]); continue; }
        if (i === 0 && j === n - 1) { src[i].push(finderSrc[1]); dst[i].push(finderDst[1]); continue; }
        if (i === n - 1 && j === 0) { src[i].push(finderSrc[2]); dst[i].push(finderDst[2]); continue; }
        src[i].push([sx, sy]);
        dst[i].push(findAlignment(bm, h, sx, sy, 2, moduleSize) || h(sx, sy));
      }
    }
    const cells = [];
    for (let i = 0; i + 1 < n; i++) {
      cells.push([]);
      for (let j = 0; j + 1 < n; j++) {
        const s = [src[i][j], src[i][j + 1], src[i + 1][j + 1], src[i + 1][j]];
        const d = [dst[i][j], dst[i][j + 1], dst[i + 1][j + 1], dst[i + 1][j]];
        cells[i].push(homography(s, d) || h);
      }
    }
    const cellOf = (v) => {
      let k = 0;
      while (k < n - 2 && v >= pos[k + 1] + 0.5) k++;
      return k;
    };
    return (x, y) => cells[cellOf(y)][cellOf(x)](x, y);
  }

  /* {read} with the symbol's content, or {seen} when it is a symbol (its format information
     reads) that cannot be read, or {} when these finders are not one symbol. */
  function readSymbol(bm, cand) {
    let seen = null;
    for (const version of versionCandidates(bm, cand)) {
      const size = 4 * version + 17;
      for (const map of symbolMaps(bm, cand, version)) {
        const corners = [map(0, 0), map(size, 0), map(size, size), map(0, size)].map(([x, y]) => ({ x, y }));
        // The equalised levels only where the plain reading found the format information:
        // the geometry is right then, and the modules are what is wrong.
        for (const modules of [() => sampler(bm, map), () => levelSampler(bm, map, size, true)]) {
          try {
            return { read: { ...decodeModules(modules(), version), corners } };
          } catch (e) {
            if (!(e instanceof ReadError)) throw e;
            if (!e.seen) break;
            if (!seen) seen = { ...e.seen, corners };
          }
        }
      }
    }
    return seen ? { seen } : {};
  }

  /* Every code in the photo: {codes: [{text, corners, version, level, mask, corrected}],
     unreadable: [{corners, version, level}]}, the latter symbols whose format information
     reads but whose content does not (too damaged, blurred or small: Reed-Solomon refused). */
  function scan(image) {
    const { width, height } = image;
    const grey = greyOf(image);
    const bm = new Bitmap(binarize(grey, width, height), width, height, grey);
    const finders = findFinders(bm);
    const used = new Set();
    const codes = [];
    const seen = new Map();
    let attempts = 0;
    for (const cand of symbolCandidates(finders)) {
      if (used.has(cand.tl) || used.has(cand.tr) || used.has(cand.bl)) continue;
      if (++attempts > 200) break;
      let got = readSymbol(bm, cand);
      if (!got.read && !got.seen) {
        const mirrored = readSymbol(bm, { ...cand, tr: cand.bl, bl: cand.tr });
        if (mirrored.read) got = mirrored;
      }
      if (got.read) {
        used.add(cand.tl).add(cand.tr).add(cand.bl);
        codes.push(got.read);
      } else if (got.seen && !seen.has(cand.tl)) {
        seen.set(cand.tl, { cand, ...got.seen });
      }
    }
    // One symbol seen but not read is reported once: triples sharing a finder with a symbol
    // already counted (or read) are other guesses at the same symbol.
    const unreadable = [];
    for (const { cand, corners, version, level } of seen.values()) {
      const three = [cand.tl, cand.tr, cand.bl];
      if (three.some((f) => used.has(f))) continue;
      three.forEach((f) => used.add(f));
      unreadable.push({ corners, version, level });
    }
    return { codes, unreadable };
  }

  /* Every code read in the photo (see the header). */
  function decode(image) {
    return scan(image).codes;
  }

  root.uchastokQR = {
    decode,
    scan,
    internals: {
      rsDecode, decodeFormat, decodeVersion, alignmentPositions, decodeModules, binarize, greyOf,
      findFinders: (image) => findFinders(new Bitmap(binarize(greyOf(image), image.width, image.height),
        image.width, image.height)),
      FORMAT_CODES, VERSION_CODES: VERSION_CODES.map(([, code]) => code), ReadError,
    },
  };
})(typeof window !== "undefined" ? window : globalThis);
