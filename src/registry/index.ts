export { NameTakenError, UnsupportedKeyModeError } from "./errors.js";
export { PubSub, type Subscription, type TopicCallback } from "./pubsub.js";
export {
  type KeyMode,
  MAX_KEY_LENGTH,
  type RegisterEvent,
  Registry,
  type RegistryEntry,
  type RegistryOptions,
  type UnregisterEvent,
} from "./registry.js";
