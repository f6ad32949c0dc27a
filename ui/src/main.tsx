import { render } from "preact";
import "./styles.css";
import { RelayClient } from "./api/client";
import { discoverTarget } from "./api/target";
import { App } from "./app/App";
import { Live } from "./app/live";
import { startRouter } from "./app/router";
import { installFrameProbe } from "./app/probe";

const root = document.getElementById("app");
if (!root) throw new Error("no #app element");

const target = discoverTarget();
if (target === null) {
  render(
    <div class="shell">
      <main id="main" class="no-target">
        <h1>Telltale</h1>
        <p>This page needs the relay's address and access token.</p>
        <p>
          Run <code>telltale serve</code> and open the URL it prints (it ends in <code>?token=…</code>), or start the desktop app with{" "}
          <code>telltale</code>.
        </p>
      </main>
    </div>,
    root,
  );
} else {
  const live = new Live(new RelayClient(target));
  startRouter();
  installFrameProbe(live);
  render(<App live={live} />, root);
  void live.start();
}
