import { describe, expect, it } from "vitest";
import {
  clearCookie,
  loginCookieName,
  readCookie,
  sessionCookieName,
  setCookie,
  stripRampartCookies,
} from "./cookies.ts";

describe("session cookies", () => {
  it("uses the __Host- prefix over HTTPS and a plain name for HTTP development", () => {
    expect(sessionCookieName(true)).toBe("__Host-rampart_session");
    expect(sessionCookieName(false)).toBe("rampart_session");
    expect(loginCookieName(true)).toBe("__Host-rampart_login");
  });

  it("builds Secure, HttpOnly, SameSite=Lax, Path=/ cookies (what __Host- requires)", () => {
    expect(setCookie("__Host-rampart_session", "abc", { secure: true })).toBe(
      "__Host-rampart_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure",
    );
    expect(setCookie("rampart_login", "s", { secure: false, maxAgeS: 600 })).toBe(
      "rampart_login=s; Path=/; HttpOnly; SameSite=Lax; Max-Age=600",
    );
    expect(clearCookie("rampart_session", false)).toContain("Max-Age=0");
  });

  it("reads a cookie among others, tolerating spaces, quotes and '=' in values", () => {
    const header = ' a=1;rampart_session = "xyz" ; b=c=d; rampart_session=second';
    expect(readCookie(header, "rampart_session")).toBe("xyz");
    expect(readCookie(header, "b")).toBe("c=d");
    expect(readCookie(header, "missing")).toBeUndefined();
    expect(readCookie(undefined, "a")).toBeUndefined();
    // A name that merely contains ours is not ours.
    expect(readCookie("xrampart_session=1", "rampart_session")).toBeUndefined();
  });

  it("strips every Rampart cookie before proxying and keeps the upstream's own", () => {
    const header =
      "grafana_session=g1; __Host-rampart_session=s; rampart_login=l; __rampart_bot=b; theme=dark; __Secure-rampart_x=1";
    expect(stripRampartCookies(header)).toBe("grafana_session=g1; theme=dark");
    expect(stripRampartCookies("rampart_session=s")).toBeUndefined();
    expect(stripRampartCookies("my_rampart_session=keep")).toBe("my_rampart_session=keep");
  });
});
