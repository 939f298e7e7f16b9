export { ReferenceBackend, type ReferenceBackendOptions, type ReferenceState, ReferenceStateSchema, REFERENCE_STATE_FORMAT } from "./reference-backend.js";
