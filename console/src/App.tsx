// The console's frame: sign-in until a token is held, then a left nav beside the page the route names.
// Sign-in through the organisation's SSO (OIDC) is a later slice; tokens and API keys work now.
import { useEffect, useRef, useState } from "react";
import { forgetToken, storedToken, whenUnauthorized } from "./api.ts";
import { Link } from "./Link.tsx";
import { Audit } from "./pages/Audit.tsx";
import { Compliance } from "./pages/Compliance.tsx";
import { Incidents } from "./pages/Incidents.tsx";
import { Overview } from "./pages/Overview.tsx";
import { SignIn } from "./pages/SignIn.tsx";
import { useRoute } from "./router.ts";
import { useTheme } from "./theme.ts";

const pages = [
  { to: "", label: "Overview" },
  { to: "incidents", label: "Incidents" },
  { to: "compliance", label: "Compliance" },
  { to: "audit", label: "Audit" },
] as const;

export function App() {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  const [theme, toggleTheme] = useTheme();
  const [navOpen, setNavOpen] = useState(false);
  const route = useRoute();
  const [section = "", sub] = route.split("/");
  const first = useRef(true);

  useEffect(() => whenUnauthorized(() => setSignedIn(false)), []);

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

  if (!signedIn)
    return (
      <>
        <div className="signin-theme">{themeButton}</div>
        <SignIn onSignedIn={() => setSignedIn(true)} />
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
        {themeButton}
        <button
          type="button"
          className="ghost"
          onClick={() => {
            forgetToken();
            setSignedIn(false);
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
