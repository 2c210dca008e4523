/* The observer's check, in the reader's own browser: what `uchastok verify` does, in JavaScript.

   uchastokVerify.verifyExport(doc, authorityKey, options) -> Promise<report> checks an
   observer export (docs/protocol.md section 10: {"type": "uchastok-export", "version": 1,
   "certificate": ..., "envelopes": [...]}) against the provisioning authority's public key,
   as sync/export.py `verify_export` does, in the same order and with the same outcome per
   envelope:
     1. the certificate: the authority's signature over its canonical bytes, then its fields
        (docs/protocol.md section 2); a failure here fails the whole file, as in
        `uchastok verify` (exit status 2);
     2. per envelope: its shape (section 3: exactly the twelve members, the kind on its own
        stream, identifiers, seq, prev/cert hex, a real TIME, canonical base64 signature),
        its canonical bytes (RFC 8785 as sync/canonical.py has it: integers within
        +-(2^53-1), no floats, no lone surrogates), the size limits, the Ed25519 signature
        over canonical(envelope without "signature"), then what the certificate allows
        (`certificate_problem`: cert reference, device, station, election, the stream among
        the roles, created_at within the validity);
     3. across the file: two different envelopes at one (stream, seq) are a fork (both bad;
        the same envelope twice is not), and `prev` must be the hash of seq-1 of its stream
        where the file holds it (hash = SHA-256 hex of the canonical whole envelope).
   The report is the JSON of `uchastok verify --json`: {ok, device, station, election,
   envelopes: [{index, stream, seq, kind, hash, created_at, ok, error}], problems}, plus
   `error` when the whole file fails and `engine` ("webcrypto" or "fallback"). The reasons
   are worded as in Python; an agreeing verdict is what tests/central/test_portal_verify.py
   checks on every sample, tampered ones included.

   `doc` is the file's text or bytes (a string, Uint8Array or ArrayBuffer): parsed here as
   strictly as sync/canonical.py `parse` (UTF-8, no duplicate keys, no NaN/Infinity, at most
   64 levels, integers of at most 32 digits kept exact, 1.0 kept a float). An object already
   parsed by JSON.parse is accepted too, but JSON.parse has lost what tells 1 from 1.0 and
   has merged duplicate keys: give the text when it matters.
   `authorityKey` is the provisioning key as "ed25519 <base64>" (trust/provisioning.pub) or
   the base64 of its 32 bytes. options: {certificate} for a bare envelope (as --cert),
   {forceFallback: true} to use ed25519.js instead of WebCrypto (tests).

   Ed25519 goes through crypto.subtle ({name: "Ed25519"}) where the browser has it, and
   through central/portal/static/ed25519.js otherwise (loaded from beside this script when
   the page did not load it); SHA-256 through crypto.subtle.digest.
   crypto.subtle needs a secure context: https, http://127.0.0.1 or localhost, or a file.
   Written for this project from RFC 8785, RFC 8032 and docs/protocol.md; plain ES2020, no
   build step, no dependency. */
(function (root) {
  "use strict";

  const MAX_DEPTH = 64;
  const MAX_INT_DIGITS = 32;
  const SAFE = 2n ** 53n - 1n;
  const MAX_BODY_BYTES = 64 * 1024;
  const MAX_ENVELOPE_BYTES = 72 * 1024;
  const EXPORT_TYPE = "uchastok-export";
  const CERT_TYPE = "uchastok-device-certificate";
  const ZERO_HASH = "0".repeat(64);
  const FIELDS = ["version", "kind", "election", "station", "device", "stream", "seq", "prev",
    "created_at", "body", "cert", "signature"];
  const KIND_STREAMS = {
    "results-protocol": ["count"], "identification-summary": ["identify"],
    "polls-event": ["identify", "count"], "identification-receipt": ["identify"],
    "heartbeat": ["identify", "count"],
  };
  const STREAMS = ["identify", "count"];
  const ROLES = ["identify", "count"];
  const IDENT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
  const HEX64 = /^[0-9a-f]{64}$/;
  const TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$/;
  const SIGNATURE = /^[A-Za-z0-9+/]{85}[AQgw]==$/;
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // The characters Python's str.strip() and str.split() treat as white space (str.isspace).
  const PY_SPACE = "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");
  const PY_SPLIT = new RegExp(`${PY_SPACE}+`);

  /** A check that failed: the report records its text (sync.errors.SyncError in Python). */
  class CheckError extends Error {}

  function fail(message) {
    throw new CheckError(message);
  }

  /** A JSON number with a fraction or an exponent: parsed, never canonical (floats are refused). */
  class JsonFloat {
    constructor(text) {
      this.text = text;
    }
  }

  const isObject = (v) => v instanceof Map;
  const isInt = (v) => typeof v === "bigint";

  // --- strict JSON (sync/canonical.py parse) ------------------------------------------------
  // Values: null, booleans, strings, BigInt (integers), JsonFloat, arrays, Map (objects).

  function parse(input) {
    let text = input;
    if (typeof input !== "string") {
      const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
      try {
        // ignoreBOM: a leading BOM stays and is refused, as Python's json refuses it.
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      } catch (e) {
        fail("malformed JSON: not UTF-8");
      }
    }
    const parser = new Parser(text);
    parser.space();
    const value = parser.value(0);
    parser.space();
    if (parser.at < text.length) parser.error("extra data");
    return value;
  }

  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
  const HEX4 = /^[0-9a-fA-F]{4}$/;
  const SHORT_ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

  class Parser {
    constructor(text) {
      this.text = text;
      this.at = 0;
    }

    error(what) {
      fail(`malformed JSON: ${what} at character ${this.at}`);
    }

    space() {
      const t = this.text;
      while (this.at < t.length) {
        const c = t[this.at];
        if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") break;
        this.at++;
      }
    }

    value(depth) {
      const t = this.text;
      const c = t[this.at];
      if (c === "{" || c === "[") {
        if (depth >= MAX_DEPTH) fail(`malformed JSON: nested deeper than ${MAX_DEPTH} levels`);
        return c === "{" ? this.object(depth + 1) : this.array(depth + 1);
      }
      if (c === '"') return this.string();
      for (const constant of ["NaN", "Infinity", "-Infinity"]) {
        if (t.startsWith(constant, this.at)) fail(`${constant} is not valid JSON`);
      }
      for (const [word, v] of [["null", null], ["true", true], ["false", false]]) {
        if (t.startsWith(word, this.at)) {
          this.at += word.length;
          return v;
        }
      }
      NUMBER.lastIndex = this.at;
      const m = NUMBER.exec(t);
      if (m === null) this.error("expecting a value");
      this.at += m[0].length;
      if (m[1] !== undefined || m[2] !== undefined) return new JsonFloat(m[0]);
      const digits = m[0].replace("-", "").length;
      if (digits > MAX_INT_DIGITS) {
        fail(`malformed JSON: an integer of ${digits} digits (at most ${MAX_INT_DIGITS})`);
      }
      return BigInt(m[0]);
    }

    object(depth) {
      const t = this.text;
      const out = new Map();
      this.at++;
      this.space();
      if (t[this.at] === "}") {
        this.at++;
        return out;
      }
      for (;;) {
        if (t[this.at] !== '"') this.error("expecting a property name in double quotes");
        const key = this.string();
        if (out.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        this.space();
        if (t[this.at] !== ":") this.error("expecting ':'");
        this.at++;
        this.space();
        out.set(key, this.value(depth));
        this.space();
        if (t[this.at] === "}") {
          this.at++;
          return out;
        }
        if (t[this.at] !== ",") this.error("expecting ',' or '}'");
        this.at++;
        this.space();
      }
    }

    array(depth) {
      const t = this.text;
      const out = [];
      this.at++;
      this.space();
      if (t[this.at] === "]") {
        this.at++;
        return out;
      }
      for (;;) {
        out.push(this.value(depth));
        this.space();
        if (t[this.at] === "]") {
          this.at++;
          return out;
        }
        if (t[this.at] !== ",") this.error("expecting ',' or ']'");
        this.at++;
        this.space();
      }
    }

    // Escapes append UTF-16 code units: an escaped surrogate pair becomes its character and a
    // lone escaped surrogate stays lone, as in Python (canonical() then refuses it).
    string() {
      const t = this.text;
      const parts = [];
      let start = ++this.at;
      for (;;) {
        if (this.at >= t.length) this.error("unterminated string");
        const code = t.charCodeAt(this.at);
        if (code === 0x22) break;
        if (code < 0x20) this.error("invalid control character in a string");
        if (code !== 0x5c) {
          this.at++;
          continue;
        }
        parts.push(t.slice(start, this.at));
        const e = t[this.at + 1];
        if (e === "u") {
          const hex = t.slice(this.at + 2, this.at + 6);
          if (!HEX4.test(hex)) this.error("invalid \\uXXXX escape");
          parts.push(String.fromCharCode(parseInt(hex, 16)));
          this.at += 6;
        } else if (e !== undefined && Object.prototype.hasOwnProperty.call(SHORT_ESCAPES, e)) {
          parts.push(SHORT_ESCAPES[e]);
          this.at += 2;
        } else {
          this.error("invalid escape");
        }
        start = this.at;
      }
      parts.push(t.slice(start, this.at));
      this.at++;
      return parts.join("");
    }
  }

  /** A value built by JSON.parse (or by hand) in the parser's form; see the header's caveat. */
  function fromPlain(v) {
    if (v === null || typeof v === "boolean" || typeof v === "string" || typeof v === "bigint") return v;
    if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : new JsonFloat(String(v));
    if (Array.isArray(v)) return v.map(fromPlain);
    if (typeof v === "object" && !(v instanceof JsonFloat) && !(v instanceof Map)) {
      return new Map(Object.keys(v).map((k) => [k, fromPlain(v[k])]));
    }
    return v;
  }

  // --- canonical bytes (RFC 8785, sync/canonical.py) ----------------------------------------

  function hasLoneSurrogate(s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const n = s.charCodeAt(i + 1);
        if (n >= 0xdc00 && n <= 0xdfff) i++;
        else return true;
      } else if (c >= 0xdc00 && c <= 0xdfff) {
        return true;
      }
    }
    return false;
  }

  const ESCAPES = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

  function canonicalString(s) {
    if (hasLoneSurrogate(s)) fail("cannot be canonicalised: a lone surrogate in a string");
    // eslint-disable-next-line no-control-regex
    return '"' + s.replace(/["\\\u0000-\u001f]/g, (c) =>
      ESCAPES[c] || "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + '"';
  }

  function canonicalText(v, depth) {
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "string") return canonicalString(v);
    if (isInt(v)) {
      if (v > SAFE || v < -SAFE) fail(`cannot be canonicalised: ${v} is outside +-(2^53-1)`);
      return v.toString();
    }
    if (v instanceof JsonFloat) fail("floats are not allowed in signed documents");
    if (Array.isArray(v) || isObject(v)) {
      if (depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(v)) return "[" + v.map((x) => canonicalText(x, depth + 1)).join(",") + "]";
      // Members in the order of their names' UTF-16 code units: the order of JS's default sort.
      const keys = [...v.keys()].sort();
      return "{" + keys.map((k) => canonicalString(k) + ":" + canonicalText(v.get(k), depth + 1))
        .join(",") + "}";
    }
    fail(`cannot be canonicalised: ${typeof v}`);
    return "";
  }

  const encoder = new TextEncoder();

  /** RFC 8785 bytes of a parsed value; CheckError where Python's canonical() raises. */
  function canonical(v) {
    return encoder.encode(canonicalText(v, 0));
  }

  // --- base64, hashes, signatures -----------------------------------------------------------

  function b64(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
      out += i + 2 < bytes.length ? B64[n & 63] : "=";
    }
    return out;
  }

  /** The bytes of canonical base64 `text` (sync/signing.py unb64); CheckError for any other spelling. */
  function unb64(text, what) {
    if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      fail(`${what} is not valid base64`);
    }
    const data = text.replace(/=+$/, "");
    const bytes = new Uint8Array(Math.floor((data.length * 6) / 8));
    let bits = 0;
    let value = 0;
    let j = 0;
    for (const c of data) {
      value = (value << 6) | B64.indexOf(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes[j++] = (value >> bits) & 0xff;
      }
    }
    if (b64(bytes) !== text) fail(`${what} is not canonical base64 (unused bits must be zero)`);
    return bytes;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256Hex(bytes) {
    return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  }

  let webCryptoProbe = null;

  /** True when this browser's WebCrypto verifies Ed25519 (probed once with RFC 8032 TEST 1). */
  function webCryptoHasEd25519() {
    if (webCryptoProbe === null) {
      webCryptoProbe = (async () => {
        try {
          const pub = hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
          const sig = hexBytes("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
          const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
          return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, new Uint8Array(0));
        } catch (e) {
          return false;
        }
      })();
    }
    return webCryptoProbe;
  }

  function hexBytes(h) {
    return new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
  }

  // Where this script came from, to fetch ed25519.js beside it (set only while it first runs).
  const SCRIPT_URL = typeof document !== "undefined" && document.currentScript ? document.currentScript.src : null;

  /** ed25519.js, loaded from beside this script unless the page has it already. */
  function loadFallback() {
    if (root.uchastokEd25519) return Promise.resolve();
    if (!SCRIPT_URL) return Promise.reject(new Error("ed25519.js is not loaded"));
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL("ed25519.js", SCRIPT_URL).href;
      script.onload = () => resolve();
      script.onerror = () => reject(new Error(`cannot load ${script.src}`));
      document.head.appendChild(script);
    });
  }

  /** A verifier for one raw public key: async (signature, data) -> boolean. */
  async function publicKeyVerifier(raw, engine) {
    if (engine === "webcrypto") {
      let key = null;
      try {
        key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      } catch (e) {
        key = null; // a browser refusing the point at import: no signature can verify
      }
      return async (signature, data) =>
        key !== null && crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);
    }
    if (!root.uchastokEd25519) throw new Error("ed25519.js is not loaded");
    return (signature, data) => root.uchastokEd25519.verify(raw, signature, data);
  }

  async function checkSignature(verifier, signature, data) {
    if (signature.length !== 64) fail(`signature is ${signature.length} bytes, expected 64`);
    if (!(await verifier(signature, data))) fail("signature does not verify");
  }

  async function keyId(raw) {
    return (await sha256Hex(raw)).slice(0, 16);
  }

  /** The 32 bytes of "ed25519 <base64>" (split as Python's str.split() does). */
  function publicFromText(text) {
    const parts = text.replace(PY_STRIP, "").split(PY_SPLIT).filter((p) => p !== "");
    if (parts.length !== 2 || parts[0] !== "ed25519") {
      fail("not an Ed25519 public key file (expected 'ed25519 <base64>')");
    }
    const raw = unb64(parts[1], "public key");
    if (raw.length !== 32) fail(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
    return raw;
  }

  // --- times --------------------------------------------------------------------------------

  /** True if `v` is a TIME: YYYY-MM-DDTHH:MM:SSZ naming a real UTC second (year 1 to 9999). */
  function isTime(v) {
    if (typeof v !== "string") return false;
    const m = TIME.exec(v);
    if (m === null) return false;
    const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
      return false;
    }
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
    return day <= days;
  }

  // --- certificates (sync/certificate.py verify_certificate, at=None) -----------------------

  function sameKeys(map, keys) {
    return map.size === keys.length && keys.every((k) => map.has(k));
  }

  function certText(s, field) {
    const v = s.get(field);
    if (typeof v !== "string" || v === "") fail(`certificate ${field} is not a text`);
    return v;
  }

  function certTime(s, field) {
    const v = s.get(field);
    if (!isTime(v)) fail(`certificate ${field} is not a real time YYYY-MM-DDTHH:MM:SSZ`);
    return v;
  }

  async function verifyCertificate(doc, authority) {
    // open_document: the authority's signature first
    if (!isObject(doc) || !sameKeys(doc, ["signed", "signer", "signature"])) {
      fail("not a signed document (expected keys signed, signer, signature)");
    }
    const s = doc.get("signed");
    if (!isObject(s) || typeof doc.get("signature") !== "string") {
      fail("signed document has wrong field types");
    }
    if (doc.get("signer") !== authority.keyId) {
      fail(`signed by key ${JSON.stringify(String(doc.get("signer")))}, expected ${JSON.stringify(authority.keyId)}`);
    }
    const signature = unb64(doc.get("signature"), "signature");
    await checkSignature(authority.verify, signature, canonical(s));
    // then every field
    if (s.get("type") !== CERT_TYPE || s.get("version") !== 1n) fail("not a version-1 device certificate");
    const publicKey = publicFromText(certText(s, "public_key"));
    const cert = {
      deviceId: certText(s, "device_id"), publicKey, stationId: certText(s, "station_id"),
      electionId: certText(s, "election_id"), roles: null, notBefore: null, notAfter: null, ref: null,
    };
    const roles = s.get("roles");
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => ROLES.includes(r))
        || new Set(roles).size !== roles.length) {
      fail(`certificate roles must be a list of distinct roles from ${JSON.stringify(ROLES)}`);
    }
    cert.roles = roles;
    cert.notBefore = certTime(s, "not_before");
    cert.notAfter = certTime(s, "not_after");
    cert.ref = await sha256Hex(canonical(doc));
    if (cert.deviceId !== "dev-" + (await keyId(publicKey))) {
      fail(`certificate device id ${cert.deviceId} does not match its public key`);
    }
    return cert;
  }

  // --- envelopes (sync/envelope.py) ---------------------------------------------------------

  function checkShape(env) {
    if (!isObject(env)) fail("envelope is not a JSON object");
    if (!sameKeys(env, FIELDS)) {
      const missing = FIELDS.filter((f) => !env.has(f));
      const extra = [...env.keys()].filter((k) => !FIELDS.includes(k)).sort();
      fail(`envelope fields wrong (missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)})`);
    }
    const g = (k) => env.get(k);
    if (g("version") !== 1n) fail("envelope version is not 1");
    const kind = g("kind");
    if (typeof kind !== "string" || !Object.prototype.hasOwnProperty.call(KIND_STREAMS, kind)) {
      fail(`unknown kind ${JSON.stringify(String(kind))}`);
    }
    const stream = g("stream");
    if (typeof stream !== "string" || !STREAMS.includes(stream)) fail(`unknown stream ${JSON.stringify(String(stream))}`);
    if (!KIND_STREAMS[kind].includes(stream)) {
      fail(`kind ${kind} travels on stream ${KIND_STREAMS[kind].join(" or ")}, not ${stream}`);
    }
    for (const k of ["election", "station", "device"]) {
      if (typeof g(k) !== "string" || !IDENT.test(g(k))) fail(`${k} is not an identifier`);
    }
    const seq = g("seq");
    if (!isInt(seq) || seq < 1n || seq > SAFE) fail("seq is not an integer in 1..2^53-1");
    for (const k of ["prev", "cert"]) {
      if (typeof g(k) !== "string" || !HEX64.test(g(k))) fail(`${k} is not 64 lowercase hex digits`);
    }
    if ((seq === 1n) !== (g("prev") === ZERO_HASH)) fail("prev must be 64 zeros exactly when seq is 1");
    if (!isTime(g("created_at"))) fail("created_at is not a real time YYYY-MM-DDTHH:MM:SSZ");
    if (!isObject(g("body"))) fail("body is not a JSON object");
    const sig = g("signature");
    if (typeof sig !== "string" || !SIGNATURE.test(sig)) {
      fail("signature is not the canonical base64 of 64 bytes (88 characters)");
    }
  }

  /** Shape, canonical bytes, sizes and the device's signature; the envelope hash (verify_envelope). */
  async function verifyEnvelope(env, deviceVerify) {
    checkShape(env);
    const unsigned = new Map([...env].filter(([k]) => k !== "signature"));
    const signed = canonical(unsigned);
    const bodyBytes = canonical(env.get("body")).length;
    if (bodyBytes > MAX_BODY_BYTES) fail(`body of ${bodyBytes} bytes exceeds the limit of ${MAX_BODY_BYTES}`);
    const whole = canonical(env);
    if (whole.length > MAX_ENVELOPE_BYTES) {
      fail(`envelope of ${whole.length} bytes exceeds ${MAX_ENVELOPE_BYTES}`);
    }
    await checkSignature(deviceVerify, unb64(env.get("signature"), "signature"), signed);
    return sha256Hex(whole);
  }

  /** The first way `env` oversteps its certificate, as "code: text", or null (certificate_problem). */
  function certificateProblem(env, cert) {
    const g = (k) => env.get(k);
    if (g("cert") !== cert.ref) return `unknown-certificate: envelope names certificate ${g("cert").slice(0, 12)}…, not ${cert.ref.slice(0, 12)}…`;
    if (g("device") !== cert.deviceId) return `wrong-device: envelope says device ${g("device")}, certificate ${cert.deviceId}`;
    if (g("station") !== cert.stationId) return `wrong-station: envelope says station ${g("station")}, certificate ${cert.stationId}`;
    if (g("election") !== cert.electionId) return `wrong-election: envelope says election ${g("election")}, certificate ${cert.electionId}`;
    if (!cert.roles.includes(g("stream"))) {
      return `role-not-allowed: stream ${g("stream")} is not among the certificate's roles ${JSON.stringify(cert.roles)}`;
    }
    // A TIME has one fixed form, where text order is time order.
    if (!(cert.notBefore <= g("created_at") && g("created_at") <= cert.notAfter)) {
      return `certificate-expired: created_at ${g("created_at")} outside the certificate's validity ${cert.notBefore}..${cert.notAfter}`;
    }
    return null;
  }

  // --- the export ---------------------------------------------------------------------------

  async function authorityFrom(key, engine) {
    const text = typeof key === "string" && key.trim().startsWith("ed25519") ? key : `ed25519 ${key}`;
    const raw = publicFromText(text);
    return { raw, keyId: await keyId(raw), verify: await publicKeyVerifier(raw, engine) };
  }

  function asValue(doc) {
    if (typeof doc === "string" || doc instanceof Uint8Array || doc instanceof ArrayBuffer) return parse(doc);
    return fromPlain(doc);
  }

  async function checkExport(input, authorityKey, options, report) {
    const doc = asValue(input);
    let envelopes;
    let certDoc;
    if (isObject(doc) && doc.get("type") === EXPORT_TYPE) {
      if (!sameKeys(doc, ["type", "version", "certificate", "envelopes"]) || doc.get("version") !== 1n) {
        fail("not a version 1 uchastok-export");
      }
      envelopes = doc.get("envelopes");
      certDoc = options.certificate != null ? asValue(options.certificate) : doc.get("certificate");
      if (!Array.isArray(envelopes)) fail("export envelopes is not a list");
    } else if (isObject(doc) && doc.has("signature") && doc.has("seq")) {
      envelopes = [doc];
      certDoc = options.certificate != null ? asValue(options.certificate) : null;
    } else {
      fail("neither an uchastok-export nor an envelope");
    }
    if (certDoc === null) fail("no device certificate: give one or use an export file");
    const authority = await authorityFrom(authorityKey, report.engine);
    const cert = await verifyCertificate(certDoc, authority);
    const deviceVerify = await publicKeyVerifier(cert.publicKey, report.engine);
    Object.assign(report, { device: cert.deviceId, station: cert.stationId, election: cert.electionId });

    const byStream = new Map(); // "stream seq" -> Set of envelope hashes
    const slot = (stream, seq) => `${stream} ${seq}`;
    for (let i = 0; i < envelopes.length; i++) {
      const env = envelopes[i];
      const entry = { index: i };
      try {
        const h = await verifyEnvelope(env, deviceVerify);
        Object.assign(entry, { stream: env.get("stream"), seq: Number(env.get("seq")), kind: env.get("kind"),
          hash: h, created_at: env.get("created_at") });
        const problem = certificateProblem(env, cert);
        if (problem !== null) fail(problem);
        const key = slot(entry.stream, entry.seq);
        if (!byStream.has(key)) byStream.set(key, new Set());
        byStream.get(key).add(h);
        entry.ok = true;
      } catch (e) {
        if (!(e instanceof CheckError)) throw e;
        Object.assign(entry, { ok: false, error: e.message });
        report.ok = false;
      }
      report.envelopes.push(entry);
    }
    for (const e of report.envelopes) {
      if (!e.ok) continue;
      const here = byStream.get(slot(e.stream, e.seq));
      if (here.size > 1) { // both signed by the device: the receiver would call the second a fork
        Object.assign(e, { ok: false, error: `fork: ${here.size} different envelopes at ${e.stream} seq ${e.seq}` });
        report.ok = false;
        continue;
      }
      const prev = byStream.get(slot(e.stream, e.seq - 1));
      if (prev !== undefined && !prev.has(envelopes[e.index].get("prev"))) {
        Object.assign(e, { ok: false, error: `prev does not match the hash of seq ${e.seq - 1} in this file` });
        report.ok = false;
      }
    }
    if (envelopes.length === 0) {
      report.problems.push("the export holds no envelopes");
      report.ok = false;
    }
  }

  /** Check an export (or a bare envelope with options.certificate); resolves to the report. */
  async function verifyExport(doc, authorityKey, options = {}) {
    if (!root.crypto || !root.crypto.subtle) {
      throw new Error("this page needs a secure context (https, localhost or a saved file) for crypto.subtle");
    }
    const engine = !options.forceFallback && (await webCryptoHasEd25519()) ? "webcrypto" : "fallback";
    if (engine === "fallback") await loadFallback();
    const report = { ok: true, device: null, station: null, election: null, envelopes: [], problems: [], engine };
    try {
      await checkExport(doc, authorityKey, options, report);
    } catch (e) {
      if (!(e instanceof CheckError)) throw e;
      // The whole file fails (uchastok verify: "error: ...", exit status 2).
      Object.assign(report, { ok: false, error: e.message, device: null, station: null, election: null,
        envelopes: [] });
    }
    return report;
  }

  /** The envelope hash of a parsed envelope (what the paper protocol and the portal print). */
  async function envelopeHash(env) {
    return sha256Hex(canonical(asValue(env)));
  }

  root.uchastokVerify = Object.freeze({
    verifyExport, envelopeHash, parse, canonical, unb64, isTime, webCryptoHasEd25519, CheckError, JsonFloat,
  });
})(globalThis);
