/** What the pages share: the one auth client, navigation, and a hand-off to the debugger. */
import { AuthClient } from './auth-client';

export const auth = new AuthClient();

let renderer: (focus: boolean) => void = () => {};
/** Set once by main.ts. */
export function setRenderer(fn: (focus: boolean) => void): void {
  renderer = fn;
}

/** Client-side navigation: keeps the in-memory token (a full page load would drop a JWT). */
export function navigate(path: string): void {
  if (path !== location.pathname) history.pushState(null, '', path);
  renderer(true);
}

let handoff: string | null = null;
/** Passes a token to the debugger through memory, never through the URL or storage. */
export function handToDebugger(token: string): void {
  handoff = token;
  navigate('/debugger');
}
export function takeHandoff(): string | null {
  const t = handoff;
  handoff = null;
  return t;
}

/** A page renders into `main` and returns how to update and clean itself up. */
export interface View {
  readonly title: string;
  /** Called on auth changes that do not change which page is shown (e.g. a new access token). */
  update?(): void;
  cleanup?(): void;
}
