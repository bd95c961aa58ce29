/** Re-exports of the wire protocol: constants, message table, payload types, codec. */
export * from "./constants.ts";
export * from "./messages.ts";
export type * from "./payloads.ts";
export { EXEC_REQUEST_DEFAULTS, FS_OP_NAMES, withExecDefaults } from "./payloads.ts";
export { encodeFrame, decodeBody, type DecodeEvent } from "./frame.ts";
export { FrameDecoder } from "./frame-decoder.ts";
