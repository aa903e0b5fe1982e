// `${env:NAME}` and `${file:PATH}` references inside string scalars. `$${` is a literal `${`.
// Every other `${` is an error, so a typo never passes through as a literal value.

export type TemplatePart =
  { kind: "text"; text: string } | { kind: "env"; name: string } | { kind: "file"; path: string };

export type ParsedTemplate = { ok: true; parts: TemplatePart[] } | { ok: false; message: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
  return {
    ok: false,
    message: `unknown reference \${${shorten(inner)}}: expected \${env:NAME} or \${file:PATH} (write $\${ for a literal \${)`,
  };
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
