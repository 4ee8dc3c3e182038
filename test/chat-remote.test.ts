// `sessionvisor chat --url`: the chat through a running server, over its HTTP API and its
// global SSE events, against a real server on a free port.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { ApiClient } from "../src/cli/api-client.js";
import { chatOptions } from "../src/cli/chat-options.js";
import { CliError } from "../src/cli/output.js";
import { type RunningServer, serve } from "../src/index.js";
import { ALICE, BOB, serversForTests, TOKENS } from "./support/http-servers.js";
import { startSystem } from "./support/sessions.js";
import { StreamChat } from "./support/stream-chat.js";

const start = serversForTests();
const chats: StreamChat[] = [];
afterEach(async () => {
  for (const chat of chats.splice(0)) await chat.close().catch(() => {});
});

function chatWith(url: string, token: string | undefined, sessionId?: string): StreamChat {
  const chat = new StreamChat({
    server: ApiClient.remote(url, token),
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  chats.push(chat);
  return chat;
}

describe("chat --url", { timeout: 30_000 }, () => {
  it("opens a session on the server, owned by the token's owner, and shows its reply as it streams", async () => {
    const { url, system } = await start({ chunkDelayMs: 5 });
    const chat = chatWith(url, ALICE);
    await chat.waitFor(/opened session 1 \((session_[^)]+)\)/);
    const mark = chat.mark();
    chat.type("hello there");
    await chat.waitFor(/hello there/, mark);
    await chat.waitFor(/\[1\]> $/, mark + 1);
    const [session] = await system.listSessions();
    assert.equal((await ApiClient.remote(url, ALICE).listSessions()).length, 1, "alice owns it");
    assert.equal((await ApiClient.remote(url, BOB).listSessions()).length, 0, "bob does not see it");
    const history = await system.getHistory(session?.id as string);
    const reply = history.find((turn) => turn.role === "assistant")?.content as string;
    assert.ok(reply.length > 0);
    assert.ok(chat.since(mark).includes(reply), `the whole reply is on screen:\n${chat.since(mark)}`);
  });

  it("starts in the session it is given, and shows that session's history", async () => {
    const { url, system } = await start();
    const session = await system.createSession({ owner: "alice", name: "mine" });
    await system.sendMessage(session.id, "remember this");
    const chat = chatWith(url, ALICE, session.id);
    await chat.waitFor(/\[1\]> $/);
    const mark = chat.mark();
    chat.type("/history");
    await chat.waitFor(/user: remember this\n/, mark);
  });

  it("cannot open another owner's session: it is no live session to it", async () => {
    const { url, system } = await start();
    const session = await system.createSession({ owner: "alice" });
    const chat = new StreamChat({ server: ApiClient.remote(url, BOB), sessionId: session.id });
    await assert.rejects(chat.running, new RegExp(`no live session ${session.id}`));
  });

  it("with a token the server does not know, fails with the server's answer", async () => {
    const { url } = await start();
    const chat = new StreamChat({ server: ApiClient.remote(url, "svt_not-a-token") });
    await assert.rejects(
      chat.running,
      (error: unknown) => error instanceof CliError && error.code === "unauthorized",
    );
  });

  it("reopens a broken event stream after the last event read, so a reply after the break is shown whole", async () => {
    const { url, system } = await start({ chunkDelayMs: 5 });
    let cut = false;
    // The first event stream ends after its first event, as a dropped connection would.
    const fetcher = async (request: Request): Promise<Response> => {
      const response = await fetch(request);
      if (cut || !request.url.endsWith("/v1/events") || !response.body) return response;
      cut = true;
      const reader = response.body.getReader();
      let text = "";
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await reader.read();
          if (chunk.done) return controller.close();
          text += new TextDecoder().decode(chunk.value);
          controller.enqueue(chunk.value);
          if (/\ndata: .*\n\n/.test(text)) {
            await reader.cancel();
            controller.close();
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const chat = new StreamChat({ server: new ApiClient(url, fetcher, ALICE) });
    chats.push(chat);
    await chat.waitFor(/the server ended the event stream; reconnecting/);
    await chat.waitFor(/\[1\]> $/);
    const mark = chat.mark();
    chat.type("after the break");
    await chat.waitFor(/\[1\]> $/, mark + 1);
    const [session] = await system.listSessions();
    const reply = (await system.getHistory(session?.id as string)).find(
      (t) => t.role === "assistant",
    )?.content;
    assert.ok(chat.since(mark).includes(reply as string), chat.since(mark));
    assert.doesNotMatch(chat.since(0), /events were lost/);
  });

  it("/kill on a server without --dev says the server does not allow it", async () => {
    const { url } = await start();
    const chat = chatWith(url, ALICE);
    await chat.waitFor(/\[1\]> $/);
    const mark = chat.mark();
    chat.type("/kill");
    await chat.waitFor(/error: the server does not allow it: start it with `sessionvisor serve --dev`/, mark);
  });
});

describe("chat --url against a server in development mode", { timeout: 30_000 }, () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("/kill kills the session's supervisor on the server and shows it recover", async () => {
    const system = await startSystem();
    server = await serve({ system, port: 0, tokens: TOKENS, dev: true, closeGraceMs: 1000 });
    const closeSystem = server.close.bind(server);
    server.close = async () => {
      await closeSystem();
      await system.stop();
    };
    const chat = chatWith(server.url, ALICE);
    await chat.waitFor(/\[1\]> $/);
    const mark = chat.mark();
    chat.type("/kill");
    await chat.waitFor(/killing supervisor <[^>]+> of session 1/, mark);
    await chat.waitFor(/\[session 1: active -> recovering\][\s\S]*\[session 1: recovering -> active\]/, mark);
  });
});

describe("chat flags with --url", () => {
  it("refuse --store, which is the server's business", () => {
    assert.throws(
      () => chatOptions({ url: "http://127.0.0.1:1", store: "x.db" }, {}),
      /--store is for a chat without --url/,
    );
  });

  it("refuse --token-file without --url", () => {
    assert.throws(() => chatOptions({ tokenFile: "t" }, {}), /--token-file is for --url/);
  });

  it("take the token from SESSIONVISOR_TOKEN when no --token-file is given", () => {
    const options = chatOptions({ url: "http://127.0.0.1:1" }, { SESSIONVISOR_TOKEN: "svt_x" });
    assert.ok(options.server instanceof ApiClient);
  });
});
