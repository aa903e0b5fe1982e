// Server-side SSO sessions: opaque cookie → record in HotState, cached per replica, revocable everywhere.
export {
  clearCookie,
  loginCookieName,
  readCookie,
  sessionCookieName,
  setCookie,
  stripRampartCookies,
} from "./cookies.ts";
export {
  createSessionStore,
  type NewSession,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
  type TokenSet,
} from "./store.ts";
