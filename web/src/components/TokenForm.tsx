import { useState } from "preact/hooks";
import { token } from "../api.js";

/** Asked for when the server has tokens: kept in this tab's sessionStorage, sent as a bearer header. */
export function TokenForm({ onToken }: { onToken: () => void }) {
  const [value, setValue] = useState("");
  const hadOne = token.get() !== undefined;
  return (
    <form
      class="token-form"
      data-testid="token-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!value.trim()) return;
        token.set(value);
        onToken();
      }}
    >
      <h2>This server needs a token</h2>
      {hadOne && <p class="error">The token given was refused.</p>}
      <p>
        Paste a bearer token (from <code>sessionvisor token --owner NAME</code>). It stays in this tab only.
      </p>
      <input
        type="password"
        autocomplete="off"
        placeholder="token"
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit">Open</button>
    </form>
  );
}
