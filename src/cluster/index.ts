export { clusterBuckets } from "./buckets.js";
export type { ClusterCapabilities } from "./capabilities.js";
export {
  ClusterNode,
  type ClusterNodeOptions,
  type ClusterSystemOptions,
} from "./cluster-node.js";
export {
  type ClusterSessionInfo,
  ClusterSessions,
  type ClusterSubscription,
} from "./cluster-sessions.js";
export {
  ClusterBucketMismatchError,
  ClusterClosedError,
  ClusterUnavailableError,
  type ClusterUnavailableReason,
  NatsClientMissingError,
  SessionOwnedElsewhereError,
} from "./errors.js";
export type { LeaseLossReason } from "./held-lease.js";
export type { LeaseOwner } from "./lease-entry.js";
export type { MemberDownReason } from "./liveness.js";
export type { ClusterMember } from "./member-entry.js";
export { type ListedMember, type ListMembersOptions, listMembers } from "./member-list.js";
export {
  DEFAULT_NODES_BUCKET,
  Membership,
  type MembershipEvent,
  type MembershipListener,
  type MembershipOptions,
} from "./membership.js";
export {
  ClusterConnection,
  type ClusterConnectionOptions,
  connectCluster,
  DEFAULT_NATS_SERVERS,
} from "./nats-connection.js";
export { NatsRouter, type NatsRouterOptions } from "./nats-router.js";
export { NoNodeAvailableError, SessionNotHereError } from "./node-errors.js";
export type { ClusterNodeEvent, ClusterNodeListener } from "./node-events.js";
export { isNodeDown, type NodeDownCause, NodeDownError } from "./route-errors.js";
export { followMembership } from "./route-membership.js";
export {
  type ClaimOptions,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LEASES_BUCKET,
  type LeaseLostListener,
  SessionLeases,
  type SessionLeasesOptions,
} from "./session-leases.js";
