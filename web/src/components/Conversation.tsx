import { useState } from "preact/hooks";
import type { ConversationTurn } from "../types.js";

interface Props {
  turns: ConversationTurn[];
  streaming: { turnId: string; text: string; deltas: number } | undefined;
  lastDeltas: number;
  onSend: (text: string) => Promise<void>;
}

/** The conversation, the reply being streamed at its end, and a box to send a message. */
export function Conversation({ turns, streaming, lastDeltas, onSend }: Props) {
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  return (
    <div class="conversation" data-testid="conversation" data-last-deltas={lastDeltas}>
      <div class="turns">
        {turns.map((turn) => (
          <div
            key={turn.id}
            class={`turn ${turn.role} ${turn.status}`}
            data-testid="turn"
            data-role={turn.role}
          >
            <span class="role">{turn.role}</span>
            <span class="content">{turn.content}</span>
            {turn.status !== "complete" && <span class="tag">{turn.status}</span>}
          </div>
        ))}
        {streaming && (
          <div class="turn assistant streaming" data-testid="streaming-reply" data-deltas={streaming.deltas}>
            <span class="role">assistant</span>
            <span class="content">{streaming.text}</span>
            <span class="cursor">▍</span>
          </div>
        )}
      </div>
      <form
        class="send"
        onSubmit={async (e) => {
          e.preventDefault();
          const message = text.trim();
          if (!message || sending) return;
          setSending(true);
          setText("");
          await onSend(message);
          setSending(false);
        }}
      >
        <input
          type="text"
          placeholder="send a message"
          value={text}
          data-testid="message-input"
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" data-testid="send" disabled={sending}>
          {sending ? "…" : "Send"}
        </button>
      </form>
    </div>
  );
}
