export { type Gateway, type GatewayStats, startGateway } from "./gateway.js";
export { type GatewayOptions, GatewayOptionsSchema, type ParsedGatewayOptions } from "./options.js";
export { type GatewayPolicy, type GatewayPolicyInput, GatewayPolicySchema } from "./policy.js";
export { type Capabilities, type UpstreamInput, UpstreamSchema } from "./upstreams.js";
export { scopedKey } from "./keys.js";
export { type Scope, scopedBaseUrl } from "./scope.js";
export { GatewayPausedError, type WhilePaused } from "./gate.js";
