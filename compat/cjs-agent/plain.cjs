// Plain CommonJS, no TypeScript loader: require() of tracetrain's ES modules (Node >= 20.19).
const { Trainer, agent, NotFoundError } = require("tracetrain");
const { MemoryStore } = require("tracetrain/store");
console.log(JSON.stringify({ Trainer: typeof Trainer, agent: typeof agent, MemoryStore: typeof MemoryStore, error: new NotFoundError("rollout", "r").name }));
