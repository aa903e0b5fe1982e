// `${env:NAME}`, `${file:PATH}` and `${secret:/env/service/name#key}` references inside string
// scalars. `$${` is a literal `${`. Every other `${` is an error, so a typo never passes through as
// a literal value.

export type TemplatePart =
  | { kind: "text"; text: string }
  | { kind: "env"; name: string }
  | { kind: "file"; path: string }
  /** A secret of the secrets store; `key` picks one key of its map (required when it holds several). */
  | { kind: "secret"; path: string; key?: string };

export type ParsedTemplate = { ok: true; parts: TemplatePart[] } | { ok: false; message: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// The store's own path and key rules (appsec/secrets/paths.ts), repeated so config stays below layer modules.
const SECRET_PATH = /^(\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){3}$/;
const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

/** Split a scalar into literal text and references; `parts` is a single text part when there are none. */
export function parseTemplate(source: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let text = "";
  let index = 0;
  while (index < source.length) {
    const dollar = source.indexOf("$", index);
    if (dollar === -1) {
      text += source.slice(index);
      break;
    }
    text += source.slice(index, dollar);
    if (source.startsWith("$${", dollar)) {
      text += "${";
      index = dollar + 3;
    } else if (source.startsWith("${", dollar)) {
      const close = source.indexOf("}", dollar + 2);
      if (close === -1)
        return { ok: false, message: "unterminated ${ reference (write $${ for a literal ${)" };
      const reference = parseReference(source.slice(dollar + 2, close));
      if (!reference.ok) return reference;
      if (text !== "") parts.push({ kind: "text", text });
      text = "";
      parts.push(reference.part);
      index = close + 1;
    } else {
      text += "$";
      index = dollar + 1;
    }
  }
  if (text !== "" || parts.length === 0) parts.push({ kind: "text", text });
  return { ok: true, parts };
}

function parseReference(inner: string): { ok: true; part: TemplatePart } | { ok: false; message: string } {
  if (inner.startsWith("env:")) {
    const name = inner.slice(4);
    if (ENV_NAME.test(name)) return { ok: true, part: { kind: "env", name } };
    return { ok: false, message: `invalid environment variable name in \${${shorten(inner)}}` };
  }
  if (inner.startsWith("file:")) {
    const path = inner.slice(5);
    if (path.trim() !== "") return { ok: true, part: { kind: "file", path } };
    return { ok: false, message: "empty path in a file: reference" };
  }
  if (inner.startsWith("secret:")) return parseSecretReference(inner);
  return {
    ok: false,
    message: `unknown reference \${${shorten(inner)}}: expected \${env:NAME}, \${file:PATH} or \${secret:/env/service/name} (write $\${ for a literal \${)`,
  };
}

function parseSecretReference(
  inner: string,
): { ok: true; part: TemplatePart } | { ok: false; message: string } {
  const body = inner.slice(7);
  const hash = body.indexOf("#");
  const path = hash === -1 ? body : body.slice(0, hash);
  const key = hash === -1 ? undefined : body.slice(hash + 1);
  if (!SECRET_PATH.test(path)) {
    return {
      ok: false,
      message: `invalid secret path in \${${shorten(inner)}}: expected \${secret:/environment/service/name}`,
    };
  }
  if (key !== undefined && !SECRET_KEY.test(key)) {
    return { ok: false, message: `invalid key after '#' in \${${shorten(inner)}}` };
  }
  return { ok: true, part: { kind: "secret", path, ...(key !== undefined ? { key } : {}) } };
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Drop one trailing newline, as files written by editors and `echo` end with one. */
export function trimTrailingNewline(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}
