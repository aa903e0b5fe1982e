// The ways a login fails, each with a stable reason; none carries a token or cookie value.
import { RampartError } from "../../platform/errors.ts";

export type LoginFailureReason =
  /** The callback's state does not belong to this browser (forged, tampered or replayed callback). */
  | "state_mismatch"
  /** The login took too long, or its state was already used. */
  | "login_expired"
  /** The ID token was not issued for this login (injected token). */
  | "nonce_mismatch"
  /** The provider answered the authorization request with an error (e.g. access_denied). */
  | "idp_error"
  /** The provider refused the authorization code (replayed, expired, or PKCE verifier wrong). */
  | "code_rejected"
  /** The provider's answer failed validation (signature, issuer, audience, times). */
  | "invalid_response"
  | "email_unverified";

export class LoginFailed extends RampartError {
  readonly reason: LoginFailureReason;
  constructor(reason: LoginFailureReason, detail?: string) {
    super("login_failed", 401, detail ? `login failed: ${reason} (${detail})` : `login failed: ${reason}`);
    this.reason = reason;
  }
}

/** Too many failed logins from one client; the gateway answers 429 with Retry-After. */
export class TooManyAttempts extends RampartError {
  readonly retryAfterS: number;
  constructor(retryAfterS: number) {
    super("too_many_attempts", 429, `too many failed logins; retry in ${retryAfterS} s`);
    this.retryAfterS = retryAfterS;
  }
}
