// Heuristics that tell a credential from text that only looks like one: Shannon entropy and the
// look-alikes people write in docs, tests and templates (placeholders, runs, UUIDs, references).

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER_WORDS =
  /example|sample|dummy|placeholder|changeme|change_me|your[_-]|redacted|foobar|\*\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(|%s|\$[A-Z_]{3,}|lorem|abcdef|123456|secret|password|token/i;
// Four characters turn up by chance in about one random 88-character key in 1,600 ("…q8TeStX…"),
// so these count only as a word of their own: at the value's edge or beside a non-alphanumeric.
const SHORT_PLACEHOLDER_WORDS =
  /(?:^|[^a-z0-9])(?:test|fake|mock|your|xxxx|aaaa|0000|1111)|(?:test|fake|mock|your|xxxx|aaaa|0000|1111)(?:$|[^a-z0-9])/i;

/** A value someone wrote to stand in for a secret: `<your-key>`, `${VAR}`, `{{ x }}`, `EXAMPLE`, `xxxx`… */
export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_WORDS.test(value) || SHORT_PLACEHOLDER_WORDS.test(value);
}

/** Runs such as `aaaaaaaa`, `abcdefgh`, `12345678` or `ABABABAB` that a random generator would not produce. */
export function isRepetitive(value: string): boolean {
  if (value.length < 4) return true;
  let same = 0;
  let up = 0;
  let down = 0;
  for (let i = 1; i < value.length; i++) {
    const d = value.charCodeAt(i) - value.charCodeAt(i - 1);
    if (d === 0) same++;
    else if (d === 1) up++;
    else if (d === -1) down++;
  }
  const n = value.length - 1;
  if (same / n > 0.5 || up / n > 0.6 || down / n > 0.6) return true;
  // A short pattern repeated: "abcabcabc", "0x0x0x0x".
  for (let p = 1; p <= 4; p++) {
    if (value.length < p * 3) break;
    let rep = true;
    for (let i = p; i < value.length && rep; i++) if (value[i] !== value[i - p]) rep = false;
    if (rep) return true;
  }
  return false;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID: an identifier, not a credential. */
export const isUuid = (value: string): boolean => UUID.test(value);

const HEX_HASH = /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$/i;

/** Looks like a digest (MD5, SHA-1, SHA-256, SHA-512 in hex, or an SRI `sha512-…` integrity value). */
export const isDigest = (value: string): boolean =>
  HEX_HASH.test(value) || /^sha(?:1|256|384|512)-/.test(value);

/** Character classes present: lower, upper, digit, other. */
export function charClasses(value: string): number {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    else other = 1;
  }
  return lower + upper + digit + other;
}
