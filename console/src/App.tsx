// The console's frame: who is signed in (an SSO session at the gateway in front of the console, or a
// pasted token), then a left nav beside the page the route names.
import { useEffect, useRef, useState } from "react";
import { forgetToken, storedToken, whenUnauthorized } from "./api.ts";
import { Link } from "./Link.tsx";
import { Access } from "./pages/Access.tsx";
import { Audit } from "./pages/Audit.tsx";
import { Compliance } from "./pages/Compliance.tsx";
import { Edge } from "./pages/Edge.tsx";
import { Gates } from "./pages/Gates.tsx";
import { Incidents } from "./pages/Incidents.tsx";
import { Overview } from "./pages/Overview.tsx";
import { Privacy } from "./pages/Privacy.tsx";
import { Secrets } from "./pages/Secrets.tsx";
import { SignIn } from "./pages/SignIn.tsx";
import { useRoute } from "./router.ts";
import { forgetPermissions, type Me, whoAmI } from "./session.ts";
import { useTheme } from "./theme.ts";

const pages = [
  { to: "", label: "Overview" },
  { to: "edge", label: "Edge" },
  { to: "access", label: "Access" },
  { to: "secrets", label: "Secrets" },
  { to: "gates", label: "Gates" },
  { to: "privacy", label: "Privacy" },
  { to: "incidents", label: "Incidents" },
  { to: "compliance", label: "Compliance" },
  { to: "audit", label: "Audit" },
] as const;

/** Where the gateway ends an SSO session (and the provider's, with RP-initiated logout). */
const SSO_LOGOUT = "/.rampart/sso/logout";

export function App() {
  // null: not signed in; undefined: still asking the server whether a session or token is good.
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const signedIn = me != null;
  const [theme, toggleTheme] = useTheme();
  const [navOpen, setNavOpen] = useState(false);
  const route = useRoute();
  const [section = "", sub] = route.split("/");
  const first = useRef(true);

  // Behind a gateway route with SSO every request already carries the person's session, so the
  // first question needs no token; directly at the control plane it is a stored token or nothing.
  // A lapsed SSO session is renewed by reloading: the gateway sends the browser to sign in again.
  const ssoSession = useRef(false);
  useEffect(() => {
    whenUnauthorized(() => {
      forgetPermissions();
      if (ssoSession.current) window.location.reload();
      else setMe(null);
    });
    whoAmI().then(
      (found) => {
        ssoSession.current = storedToken() === null && found?.credential === "session";
        setMe(found);
      },
      () => setMe(null),
    );
  }, []);

  // After moving to another page, put focus on its heading so screen readers announce it.
  useEffect(() => {
    setNavOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>("#main h1")?.focus();
  }, [section, signedIn]);

  const themeButton = (
    <button
      type="button"
      className="ghost theme-toggle"
      onClick={toggleTheme}
      aria-pressed={theme === "dark"}
    >
      <span aria-hidden="true" className="theme-mark" /> Dark theme
    </button>
  );

  if (me === undefined) return null;
  if (me === null)
    return (
      <>
        <div className="signin-theme">{themeButton}</div>
        <SignIn onSignedIn={() => whoAmI().then(setMe, () => setMe(null))} />
      </>
    );

  return (
    <div className={`shell${navOpen ? " nav-open" : ""}`}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="ghost nav-toggle"
          aria-expanded={navOpen}
          aria-controls="nav"
          onClick={() => setNavOpen((o) => !o)}
        >
          Menu
        </button>
        <span className="brand">Rampart</span>
        <span className="spacer" />
        <span className="whoami" title={`Roles: ${me.roles.join(", ") || "none"}`}>
          {me.email ?? me.subject}
        </span>
        {themeButton}
        <button
          type="button"
          className="ghost"
          onClick={() => {
            forgetPermissions();
            if (ssoSession.current) {
              window.location.assign(SSO_LOGOUT);
              return;
            }
            forgetToken();
            setMe(null);
          }}
        >
          Sign out
        </button>
      </header>
      <nav id="nav" aria-label="Console">
        <ul>
          {pages.map((p) => (
            <li key={p.to}>
              <Link to={p.to} current={section === p.to}>
                {p.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {section === "" && <Overview />}
        {section === "edge" && <Edge sub={sub} />}
        {section === "access" && <Access sub={sub} />}
        {section === "secrets" && <Secrets sub={sub} />}
        {section === "gates" && <Gates sub={sub} />}
        {section === "privacy" && <Privacy sub={sub} />}
        {section === "incidents" && <Incidents id={sub} />}
        {section === "compliance" && <Compliance framework={sub} />}
        {section === "audit" && <Audit />}
        {!pages.some((p) => p.to === section) && (
          <>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              There is no page here. <Link to="">Go to the overview</Link>.
            </p>
          </>
        )}
      </main>
    </div>
  );
}
