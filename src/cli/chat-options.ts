import { ApiClient } from "./api-client.js";
import type { ChatOptions } from "./chat.js";
import { type ChatFlags, chatSettings, remoteChatSession } from "./chat-flags.js";
import { checkUrl, readToken } from "./connection.js";
import { usageError } from "./output.js";

/**
 * What `sessionvisor chat`'s flags come to: a chat here (a session system of its own, with
 * `--store` and the model flags checked on this machine) or, with `--url`, a chat through that
 * server (its token from `--token-file` or SESSIONVISOR_TOKEN). Throws ChatUsageError or a
 * usage CliError for a bad flag.
 */
export function chatOptions(
  flags: ChatFlags & { url?: string; tokenFile?: string },
  env: NodeJS.ProcessEnv,
): Omit<ChatOptions, "input" | "output"> {
  if (flags.url === undefined) {
    if (flags.tokenFile !== undefined) throw usageError("--token-file is for --url");
    const settings = chatSettings(flags, env);
    return {
      streamDelayMs: settings.streamDelayMs,
      session: settings.session,
      ...(settings.storePath ? { storePath: settings.storePath } : {}),
    };
  }
  const session = remoteChatSession(flags);
  return { server: ApiClient.remote(checkUrl(flags.url), readToken(flags.tokenFile, env)), session };
}
