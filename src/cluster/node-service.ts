import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "../runtime/index.js";
import type { SessionSystem } from "../session/index.js";
import { SessionNotHereError } from "./node-errors.js";
import type { SessionLeases } from "./session-leases.js";
import { decodeRequest, encodeOutcome, type NodeRequest } from "./session-wire.js";

export interface NodeServiceDeps {
  nc: NatsConnection;
  prefix: string;
  node: string;
  system: SessionSystem;
  leases: SessionLeases;
  /** Claims an ownerless session here (waiting out a dead owner's key) and adopts it; answers the owner. */
  activate: (sessionId: string, unreachable: string | undefined) => Promise<string>;
  /** A session terminated here: give its lease up. */
  terminated: (sessionId: string) => Promise<void>;
  logger: Logger;
}

export const sessionsSubject = (prefix: string, node: string) => `${prefix}.sessions.${node}`;
export const activateSubject = (prefix: string) => `${prefix}.activate`;
export const eventsSubject = (prefix: string, sessionId: string) => `${prefix}.events.${sessionId}`;

/**
 * A node's side of the cluster session API: requests for the sessions it owns on
 * `<prefix>.sessions.<node>`, and activations of ownerless sessions from the `<prefix>.activate`
 * queue group (one node of the group gets each). A request for a session this node does not own
 * is answered SessionNotHereError, so the caller looks for the owner again.
 */
export class NodeService {
  private readonly subscriptions: Subscription[] = [];

  private constructor(private readonly deps: NodeServiceDeps) {}

  static async start(deps: NodeServiceDeps): Promise<NodeService> {
    const service = new NodeService(deps);
    const { nc, prefix, node } = deps;
    service.subscriptions.push(
      nc.subscribe(sessionsSubject(prefix, node), { callback: (_, msg) => service.onMessage(msg) }),
      nc.subscribe(activateSubject(prefix), {
        queue: activateSubject(prefix),
        callback: (_, msg) => service.onMessage(msg),
      }),
    );
    await nc.flush();
    return service;
  }

  close(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }

  private onMessage(msg: Msg): void {
    let request: NodeRequest;
    try {
      request = decodeRequest(msg.data);
    } catch (error) {
      this.reply(msg, false, error);
      return;
    }
    this.handle(request).then(
      (value) => this.reply(msg, true, value),
      (error: unknown) => this.reply(msg, false, error),
    );
  }

  private reply(msg: Msg, ok: boolean, value: unknown): void {
    if (!msg.reply) return;
    try {
      msg.respond(encodeOutcome(ok, value));
    } catch (error) {
      // Our connection closed meanwhile: the caller times out, as with a node that died.
      this.deps.logger.debug({ event: "cluster_reply_failed", err: error }, "could not reply");
    }
  }

  private async handle(request: NodeRequest): Promise<unknown> {
    const { system } = this.deps;
    switch (request.op) {
      case "create":
        return system.createSession(request.config as never);
      case "list":
        return system.listSessions();
      case "list_terminated":
        return system.listTerminatedSessions();
      case "import":
        return system.importSession(request.document as never);
      case "restore":
        return system.restoreSession(request.id);
      case "activate":
        return this.deps.activate(request.id, request.unreachable);
      default:
        break;
    }
    this.owned(request.id);
    switch (request.op) {
      case "send":
        return system.sendMessage(request.id, request.text, {
          ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
          ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
        });
      case "cancel":
        return system.cancelTurn(
          request.id,
          request.reason,
          request.requestId === undefined ? {} : { requestId: request.requestId },
        );
      case "history":
        return system.getHistory(request.id);
      case "events":
        return system.eventLog.read(request.id, request.since);
      case "get":
        return (await system.getSession(request.id)) ?? null;
      case "terminate":
        await system.terminateSession(request.id);
        await this.deps.terminated(request.id);
        return null;
      case "supervisor":
        return system.findSupervisor(request.id) ?? null;
      case "files":
        return system.getFiles(request.id);
      case "hibernate":
        await system.hibernateSession(request.id);
        return null;
      case "wake":
        return system.wakeSession(request.id);
      case "approve":
        await system.approveToolCall(request.id, request.callId);
        return null;
      case "deny":
        await system.denyToolCall(request.id, request.callId, request.reason);
        return null;
    }
  }

  private owned(sessionId: string): void {
    if (this.deps.leases.fenceOf(sessionId) === undefined)
      throw new SessionNotHereError(sessionId, this.deps.node);
  }
}
