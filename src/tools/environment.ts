import { API_KEY_VARIABLES } from "../llm/index.js";

// Names that say a variable holds a credential. AUTH and PAT only as whole words, so that
// GIT_AUTHOR_NAME and PATH survive; SSH_AUTH_SOCK goes (it lends the user's SSH agent).
const SECRET_NAME =
  /KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|SIGNATURE|(^|_)AUTH(_|$)|(^|_)PAT(_|$)|(^|_)DSN$|DATABASE_URL/i;

// Values that look like a well-known kind of key, whatever the variable is called.
const SECRET_VALUE =
  /^(sk-|sk_live_|rk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|AIza|npm_)/;

/** Kept even if a pattern above would match: a command needs them to work like in a terminal. */
const ALWAYS_KEPT = new Set(["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ"]);

/** Whether a variable's name or value says it holds a credential (the rule scrubEnvironment applies). */
export function secretLooking(name: string, value: string): boolean {
  if (ALWAYS_KEPT.has(name) || name.startsWith("LC_")) return false;
  return (name !== "" && SECRET_NAME.test(name)) || SECRET_VALUE.test(value);
}

/**
 * The environment a command starts with: the given one less every variable whose name or value
 * looks like a secret (and the model providers' key variables by name), so a command the model
 * runs cannot read the API keys of the process it runs in.
 */
export function scrubEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const providerKeys = new Set(Object.values(API_KEY_VARIABLES));
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (!ALWAYS_KEPT.has(name) && !name.startsWith("LC_")) {
      if (providerKeys.has(name) || SECRET_NAME.test(name) || SECRET_VALUE.test(value)) continue;
    }
    kept[name] = value;
  }
  return kept;
}
