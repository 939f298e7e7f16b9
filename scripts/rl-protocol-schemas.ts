/**
 * Prints the JSON Schemas (draft 2020-12) of the training-backend protocol `tracetrain-rl/2` as one
 * JSON object keyed by payload name (BackendInfo, TrainRequest, RestoreRequest, …), for servers in
 * other languages to validate against or generate models from:
 *
 *   npx tsx scripts/rl-protocol-schemas.ts > tracetrain-rl-2.schema.json
 */
import { protocolJsonSchemas } from "../src/algorithms/rl/protocol.js";

process.stdout.write(`${JSON.stringify(protocolJsonSchemas(), null, 2)}\n`);
