// Turns a request into named, decoded targets for the detectors. Parsing is synchronous, linear
// and bounded by `TargetLimits`; a body that does not parse yields `REQBODY_ERROR` plus the raw
// body as `REQUEST_BODY`, never an exception.
import { urlDecode } from "./decode.ts";
import type { Target } from "./types.ts";

export interface InspectedRequest {
  method: string;
  /** The raw request target, query included. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer;
  /** Overrides the `content-type` header. */
  contentType?: string;
  /** `1.1`, `1.0`, `2.0`; protocol checks read it when known. */
  httpVersion?: string;
}

export interface TargetLimits {
  /** Body bytes inspected; the rest is not parsed (flagged `LIMIT:truncated`). */
  maxBodyBytes: number;
  /** Targets per request; past it, parsing stops (flagged `LIMIT:targets`). */
  maxTargets: number;
  /** Nesting of JSON and XML followed; deeper values are skipped (flagged `LIMIT:depth`). */
  maxDepth: number;
  /** Chars of one value inspected; the rest is cut (flagged `LIMIT:truncated`). */
  maxValueLength: number;
  /** Headers not inspected, lowercase (see `DEFAULT_SKIPPED_HEADERS`). */
  skipHeaders: ReadonlySet<string>;
}

/**
 * Headers left out: `cookie` is inspected as `REQUEST_COOKIES:*`; credentials (`authorization`,
 * `proxy-authorization`) are secrets whose base64 decodes to noise; the rest are set by browsers
 * in fixed grammars full of quotes and semicolons (`sec-ch-ua: "Chromium";v="124"`) that look
 * like SQL to a detector, or are framing that the protocol layer already checks.
 */
export const DEFAULT_SKIPPED_HEADERS: ReadonlySet<string> = new Set([
  "cookie",
  "authorization",
  "proxy-authorization",
  "content-length",
  "connection",
  "accept-encoding",
  "if-none-match",
  "if-match",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "sec-ch-ua-full-version-list",
  "sec-fetch-dest",
  "sec-fetch-mode",
  "sec-fetch-site",
  "sec-fetch-user",
  "upgrade-insecure-requests",
  "priority",
]);

// 128 KiB of body (as CRS) and 8 KiB per value cover real forms and APIs; of anything longer the
// start is parsed and the end inspected, so the cost of inspection stays bounded.
export const DEFAULT_TARGET_LIMITS: TargetLimits = {
  maxBodyBytes: 128 * 1024,
  maxTargets: 512,
  maxDepth: 32,
  maxValueLength: 8 * 1024,
  skipHeaders: DEFAULT_SKIPPED_HEADERS,
};

/**
 * Target names made once and kept, by prefix and raw name: the same headers, cookies and form
 * fields come back request after request, and a kept string has its hash computed once for the
 * engine's cache, which looks every name up, rather than a new concatenation flattened and hashed
 * per request. Each table is dropped whole when full, so hostile names cannot grow it.
 */
const NAME_TABLE_ENTRIES = 2048;
interface Named {
  /** The name as first seen: a name is also a value (`ARGS_NAMES:x` is `x`). */
  raw: string;
  /** `prefix + raw`. */
  name: string;
  /** `second + raw`, for tables made with a second prefix. */
  second: string;
}
class NameTable {
  private table = new Map<string, Named>();
  private readonly prefix: string;
  private readonly prefix2: string;
  constructor(prefix: string, second = "") {
    this.prefix = prefix;
    this.prefix2 = second;
  }
  entry(raw: string): Named {
    let e = raw.length > 64 ? undefined : this.table.get(raw);
    if (e === undefined) {
      e = { raw, name: this.prefix + raw, second: this.prefix2 === "" ? "" : this.prefix2 + raw };
      if (raw.length <= 64) {
        if (this.table.size >= NAME_TABLE_ENTRIES) this.table = new Map();
        this.table.set(raw, e);
      }
    }
    return e;
  }
  name(raw: string): string {
    return this.entry(raw).name;
  }
}
/** A form field's two targets: `ARGS_NAMES:x` (its name) and `ARGS:x` (its value). */
const ARGS_NAMES = new NameTable("ARGS_NAMES:", "ARGS:");
const REQUEST_HEADERS = new NameTable("REQUEST_HEADERS:");
const REQUEST_COOKIES = new NameTable("REQUEST_COOKIES:");
const REQUEST_COOKIES_NAMES = new NameTable("REQUEST_COOKIES_NAMES:");

/** Collects targets under the limits; a limit that bites adds its `LIMIT:*` flag once. */
class TargetList {
  readonly items: Target[] = [];
  readonly flags = new Map<string, string>();
  private readonly limits: TargetLimits;
  constructor(limits: TargetLimits) {
    this.limits = limits;
  }
  get full(): boolean {
    return this.items.length >= this.limits.maxTargets;
  }
  flag(name: string, value: string): void {
    if (!this.flags.has(name)) this.flags.set(name, value);
  }
  add(name: string, value: string): void {
    if (name.length > 256) name = name.slice(0, 256); // names go to events and exclusions; the value keeps all
    if (this.full) return this.flag("LIMIT:targets", name);
    const max = this.limits.maxValueLength;
    if (value.length > max) {
      // Padding before a payload is an old evasion: the end of a long value is inspected too.
      this.flag("LIMIT:truncated", name);
      this.items.push({ name, value: value.slice(0, max) });
      value = value.slice(Math.max(max, value.length - max));
    }
    this.items.push({ name, value });
  }
  result(): Target[] {
    for (const [name, value] of this.flags) this.items.push({ name, value });
    return this.items;
  }
}

/** Splits `a=1&b=2` into ARGS, URL-decoding names and values (`+` is a space in forms). */
function addArgs(out: TargetList, query: string): void {
  let start = 0;
  while (start <= query.length && !out.full) {
    let end = query.indexOf("&", start);
    if (end < 0) end = query.length;
    if (end > start) {
      const pair = query.slice(start, end);
      const eq = pair.indexOf("=");
      const named = ARGS_NAMES.entry(urlDecode(eq < 0 ? pair : pair.slice(0, eq), true));
      out.add(named.name, named.raw);
      out.add(named.second, eq < 0 ? "" : urlDecode(pair.slice(eq + 1), true));
    }
    start = end + 1;
  }
}

function addJson(out: TargetList, text: string, maxDepth: number): void {
  const root: unknown = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text); // V8's parser is iterative: deep nesting cannot overflow it
  // Depth-first with an explicit stack: no recursion, and nothing below maxDepth is visited.
  const stack: Array<[unknown, string, number]> = [[root, "", 0]];
  while (stack.length > 0 && !out.full) {
    const [value, path, depth] = stack.pop()!;
    if (value === null || typeof value === "boolean") continue;
    if (typeof value !== "object") {
      out.add(`ARGS_JSON:${path || "$"}`, String(value));
      continue;
    }
    if (depth >= maxDepth) {
      out.flag("LIMIT:depth", `ARGS_JSON:${path || "$"}`);
      continue;
    }
    const children: Array<[unknown, string, number]> = [];
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) children.push([value[i], `${path}[${i}]`, depth + 1]);
    } else {
      for (const key of Object.keys(value)) {
        const child = path ? `${path}.${key}` : key;
        out.add(`ARGS_JSON_NAMES:${child}`, key); // keys carry attacks too: `__proto__`, `$where`
        children.push([(value as Record<string, unknown>)[key], child, depth + 1]);
        if (out.full) break;
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

/** Reads `name="value"` parameters of a header such as Content-Disposition (quoted or bare). */
function headerParams(header: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = header.indexOf(";");
  while (i >= 0 && i < header.length) {
    i++;
    while (header[i] === " " || header[i] === "\t") i++;
    const eq = header.indexOf("=", i);
    if (eq < 0) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    let value = "";
    i = eq + 1;
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++) {
        // Only \" and \\ are escapes: browsers send a file name's backslashes (`..\x`) as they are.
        if (header[i] === "\\" && (header[i + 1] === '"' || header[i + 1] === "\\")) i++;
        value += header[i];
      }
      i = header.indexOf(";", i);
    } else {
      const end = header.indexOf(";", i);
      value = header.slice(i, end < 0 ? header.length : end).trim();
      i = end;
    }
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

/**
 * Parses multipart/form-data into MULTIPART:<field>, FILES_NAMES:<field> (the file name) and, for
 * XML uploads only, FILES:<field> (the content); other file contents are not inspected.
 */
function addMultipart(out: TargetList, body: Buffer, boundary: string | undefined): void {
  if (!boundary || boundary.length > 200) throw new Error("multipart without a usable boundary");
  const delimiter = Buffer.from(`\r\n--${boundary}`, "latin1");
  // The first delimiter may open the body without the leading CRLF.
  let pos = body.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2))
    ? -2
    : body.indexOf(delimiter);
  if (pos === -1) throw new Error("multipart boundary not found");
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 45 && body[pos + 1] === 45) return; // closing delimiter `--boundary--`
    const headersEnd = body.indexOf("\r\n\r\n", pos);
    if (headersEnd < 0) throw new Error("multipart part without a header end");
    const next = body.indexOf(delimiter, headersEnd);
    if (next < 0) throw new Error("multipart part not closed");
    const headers = body.toString("utf8", pos, headersEnd).split("\r\n");
    const disposition = headers.find((h) => h.toLowerCase().startsWith("content-disposition:"));
    if (disposition === undefined) throw new Error("multipart part without content-disposition");
    const params = headerParams(disposition);
    const name = params.get("name") ?? "";
    const extended = params.get("filename*"); // RFC 5987: charset'lang'percent-encoded
    const filename = extended
      ? urlDecode(extended.slice(extended.lastIndexOf("'") + 1))
      : params.get("filename");
    if (filename === undefined) out.add(`MULTIPART:${name}`, body.toString("utf8", headersEnd + 4, next));
    else {
      out.add(`FILES_NAMES:${name}`, filename);
      // XML uploads (SVG, XSD, XSLT …) are read by servers that may resolve their entities.
      const type =
        headers
          .find((h) => h.toLowerCase().startsWith("content-type:"))
          ?.slice(13)
          .trim() ?? "";
      if (/\.(svg|xml|xsd|xsl|xslt|rss|atom|plist)$/i.test(filename) || /[/+]xml\b/i.test(type))
        out.add(`FILES:${name}`, body.toString("utf8", headersEnd + 4, next));
    }
    if (out.full) return;
    pos = next;
  }
}

/**
 * A lenient XML scanner: text as XML:<a/b>, attributes as XML:<a/b/@id>, the DOCTYPE as
 * XML:!DOCTYPE (where XXE lives). Entities are never expanded. Unbalanced or broken markup
 * throws after what was read has been kept, so even a broken document is inspected.
 */
function addXml(out: TargetList, xml: string, maxDepth: number): void {
  const paths: string[] = [];
  const names: string[] = [];
  let broken = "";
  let sawElement = false;
  let i = 0;
  const skipTo = (end: string): void => {
    const at = xml.indexOf(end, i);
    if (at < 0) broken ||= `unterminated ${end}`;
    i = at < 0 ? xml.length : at + end.length;
  };
  while (i < xml.length && !out.full) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt).trim();
    if (text) out.add(`XML:${paths.at(-1) ?? ""}`, text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith("<!--", i) || xml.startsWith("<?", i)) {
      // Comments and processing instructions carry SSI/ESI directives and encodings too.
      const start = i;
      skipTo(xml[i + 1] === "?" ? "?>" : "-->");
      out.add(xml[start + 1] === "?" ? "XML:?" : "XML:!--", xml.slice(start, i));
    } else if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i);
      const data = xml.slice(i + 9, end < 0 ? xml.length : end);
      if (data.trim()) out.add(`XML:${paths.at(-1) ?? ""}`, data);
      i += 9;
      skipTo("]]>");
    } else if (xml.startsWith("<!", i)) {
      // A DOCTYPE may hold an internal subset `[ … ]` with `>` inside it.
      const start = i;
      while (i < xml.length && xml[i] !== ">" && xml[i] !== "[") i++;
      if (xml[i] === "[") skipTo("]");
      skipTo(">");
      out.add("XML:!DOCTYPE", xml.slice(start, i));
    } else if (xml[i + 1] === "/") {
      const end = xml.indexOf(">", i);
      const name = xml.slice(i + 2, end < 0 ? xml.length : end).trim();
      if (names.at(-1) === name) {
        names.pop();
        paths.pop();
      } else broken ||= `unexpected </${name.slice(0, 64)}>`;
      i = end < 0 ? xml.length : end + 1;
    } else {
      i = openTag(i + 1);
    }
  }
  if (!broken && names.length > 0) broken = `unclosed <${names.at(-1)!.slice(0, 64)}>`;
  if (!broken && !sawElement) broken = "no root element";
  if (broken) throw new Error(`XML: ${broken}`);

  function openTag(from: number): number {
    let j = from;
    while (j < xml.length && !" \t\r\n/>".includes(xml[j]!)) j++;
    const name = xml.slice(from, j);
    if (!name) {
      broken ||= "empty tag name";
      return j;
    }
    sawElement = true;
    const parent = paths.at(-1);
    // Past maxDepth the path stops growing, so building paths stays linear.
    const path =
      names.length >= maxDepth
        ? parent!
        : parent === undefined
          ? name.slice(0, 64)
          : `${parent}/${name.slice(0, 64)}`;
    if (names.length === maxDepth) out.flag("LIMIT:depth", `XML:${path}`);
    for (;;) {
      while (j < xml.length && " \t\r\n".includes(xml[j]!)) j++;
      if (j >= xml.length) {
        broken ||= `unterminated <${name.slice(0, 64)}>`;
        return j;
      }
      if (xml[j] === ">" || xml.startsWith("/>", j)) break;
      const attrStart = j;
      while (j < xml.length && !" \t\r\n=/>".includes(xml[j]!)) j++;
      const attr = xml.slice(attrStart, j);
      if (xml[j] !== "=") {
        broken ||= "attribute without a value";
        j = Math.max(j, attrStart + 1);
        continue;
      }
      const quote = xml[j + 1];
      if (quote !== '"' && quote !== "'") {
        broken ||= "unquoted attribute value";
        j++;
        continue;
      }
      const end = xml.indexOf(quote, j + 2);
      if (end < 0) {
        broken ||= "unterminated attribute value";
        out.add(`XML:${path}/@${attr}`, xml.slice(j + 2));
        return xml.length;
      }
      out.add(`XML:${path}/@${attr}`, xml.slice(j + 2, end));
      j = end + 1;
    }
    if (xml[j] === ">") {
      names.push(name);
      paths.push(path);
      return j + 1;
    }
    return j + 2; // `/>`: an empty element
  }
}

function mediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function addBody(out: TargetList, req: InspectedRequest, limits: TargetLimits): void {
  const full = req.body!;
  const truncated = full.length > limits.maxBodyBytes;
  const body = truncated ? full.subarray(0, limits.maxBodyBytes) : full;
  if (truncated) {
    // The start is parsed; the end, where padding would push a payload, is inspected as text.
    out.flag("LIMIT:truncated", "REQUEST_BODY");
    out.add(
      "REQUEST_BODY",
      full.toString("utf8", Math.max(limits.maxBodyBytes, full.length - limits.maxValueLength)),
    );
  }
  const key = Object.keys(req.headers).find((k) => k.toLowerCase() === "content-type");
  const header = key === undefined ? undefined : req.headers[key];
  const contentType = req.contentType ?? (Array.isArray(header) ? header[0] : header) ?? "";
  const type = mediaType(contentType);
  try {
    if (type === "application/x-www-form-urlencoded") addArgs(out, body.toString("utf8"));
    else if (type === "multipart/form-data")
      addMultipart(out, body, headerParams(contentType).get("boundary"));
    else if (type === "application/json" || type.endsWith("+json") || type === "text/json") {
      addJson(out, body.toString("utf8"), limits.maxDepth);
    } else if (type === "application/xml" || type === "text/xml" || type.endsWith("+xml")) {
      addXml(out, body.toString("utf8"), limits.maxDepth);
    } else out.add("REQUEST_BODY", body.toString("utf8"));
  } catch (err) {
    // A body cut at the limit cannot parse; that is a limit, not a protocol violation.
    if (!truncated)
      out.flag("REQBODY_ERROR", err instanceof Error ? err.message.slice(0, 200) : "unparsable body");
    out.add("REQUEST_BODY", body.toString("utf8"));
  }
}

/** The named, once-decoded targets of a request; detectors run `variants()` on each value. */
export function requestTargets(
  req: InspectedRequest,
  limits: TargetLimits = DEFAULT_TARGET_LIMITS,
): Target[] {
  const out = new TargetList(limits);
  const q = req.path.indexOf("?");
  const rawPath = q < 0 ? req.path : req.path.slice(0, q);
  out.add("REQUEST_PATH", urlDecode(rawPath));
  out.add("REQUEST_FILENAME", urlDecode(rawPath.slice(rawPath.lastIndexOf("/") + 1)));
  if (q >= 0) addArgs(out, req.path.slice(q + 1));
  const headers = req.headers;
  for (const rawName in headers) {
    if (!Object.hasOwn(headers, rawName)) continue;
    const raw = headers[rawName];
    if (raw === undefined) continue;
    const name = rawName.toLowerCase();
    if (typeof raw === "string") addHeader(out, name, raw, limits);
    else for (const value of raw) addHeader(out, name, value, limits);
  }
  if (req.body !== undefined && req.body.length > 0) addBody(out, req, limits);
  return out.result();
}

function addHeader(out: TargetList, name: string, value: string, limits: TargetLimits): void {
  if (name === "cookie") addCookies(out, value);
  if (!limits.skipHeaders.has(name)) out.add(REQUEST_HEADERS.name(name), value);
}

function addCookies(out: TargetList, header: string): void {
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    const name = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    if (name || eq >= 0) out.add(REQUEST_COOKIES.name(name), eq < 0 ? "" : pair.slice(eq + 1).trim());
    // Names carry payloads too (`<?php …?>=1`, or a "cookie" with no `=` at all).
    if (name) {
      const named = REQUEST_COOKIES_NAMES.entry(name);
      out.add(named.name, named.raw);
    }
  }
}
