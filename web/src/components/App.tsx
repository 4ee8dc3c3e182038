import { useEffect } from "preact/hooks";
import { connect, observer } from "../observer-state.js";
import { useRoute } from "../router.js";
import { useStore } from "../store.js";
import { Overview } from "./Overview.js";
import { SessionPage } from "./SessionPage.js";
import { TokenForm } from "./TokenForm.js";

export function App() {
  const state = useStore(observer);
  const route = useRoute();
  useEffect(() => connect(), []);

  return (
    <div class="app">
      <header class="top">
        <a href="#/" class="brand">
          sessionvisor observer
        </a>
        <span class={`conn ${state.connected ? "up" : "down"}`} data-testid="connection">
          {state.connected ? "live" : "connecting…"}
        </span>
        {state.node !== undefined && (
          <span class="node-badge" data-testid="this-node" title="the cluster node this server is">
            node {state.node}
          </span>
        )}
        {state.dev && (
          <span class="dev-badge" data-testid="dev-mode">
            development mode
          </span>
        )}
      </header>
      {state.auth === "needed" ? (
        <TokenForm onToken={connect} />
      ) : route.page === "session" ? (
        <SessionPage id={route.id} />
      ) : (
        <Overview />
      )}
    </div>
  );
}
