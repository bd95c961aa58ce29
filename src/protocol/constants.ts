/**
 * Protocol constants under their names in microsandbox-protocol (commit 59d0c477).
 * A host written for that crate uses the same values; changing any of them breaks the wire.
 */

/** Name of the virtio-console port that carries the agent channel. */
export const AGENT_PORT_NAME = "agent";
/** virtiofs tag of the runtime share (scripts, heartbeat, TLS CA). */
export const RUNTIME_FS_TAG = "msb_runtime";
/** Where the runtime share is mounted in the guest. */
export const RUNTIME_MOUNT_POINT = "/.msb";
/** Staging directory for single-file mounts (one virtiofs mount per tag). */
export const FILE_MOUNTS_DIR = "/.msb/file-mounts";
/** Directory of host-provided scripts, prepended to every exec's PATH. */
export const SCRIPTS_PATH = "/.msb/scripts";
/** CA certificate placed by the host for TLS interception. */
export const GUEST_TLS_CA_PATH = "/.msb/tls/ca.pem";

/** Guest setup variables (PROTOCOL.md §8). */
export const ENV_BLOCK_ROOT = "MSB_BLOCK_ROOT";
export const ENV_DIR_MOUNTS = "MSB_DIR_MOUNTS";
export const ENV_FILE_MOUNTS = "MSB_FILE_MOUNTS";
export const ENV_HOSTNAME = "MSB_HOSTNAME";
export const ENV_TMPFS = "MSB_TMPFS";
export const ENV_NET = "MSB_NET";
export const ENV_NET_IPV4 = "MSB_NET_IPV4";
export const ENV_NET_IPV6 = "MSB_NET_IPV6";
export const ENV_USER = "MSB_USER";

/** The protocol version we send; any version is accepted on receive. */
export const PROTOCOL_VERSION = 1;

/**
 * Largest value of the frame's `len` field (id + flags + body), 4 MiB. Checked before any
 * allocation so a hostile length cannot make us reserve memory.
 */
export const MAX_FRAME_SIZE = 4 * 1024 * 1024;
/** id (u32) + flags (u8): the part of the frame that `len` counts besides the body. */
export const FRAME_HEADER_SIZE = 5;
/** Bytes of the length prefix itself. */
export const FRAME_LENGTH_SIZE = 4;
/**
 * Largest fs.data chunk, 3 MiB: leaves room under MAX_FRAME_SIZE for the envelope and the
 * double CBOR encoding of the payload.
 */
export const FS_CHUNK_SIZE = 3 * 1024 * 1024;
/**
 * Largest stdin chunk the host client sends in one frame, 1 MiB: a longer write is cut into
 * chunks of this (a single frame over MAX_FRAME_SIZE would be refused and its bytes lost), and
 * 1 MiB frames sit in agentd's pooled buffer class and within the 1 MiB a session keeps of unread
 * stdin in memory (ours: the Rust host's chunking is its own).
 */
export const STDIN_CHUNK_SIZE = 1024 * 1024;

/** Frame flag bits (PROTOCOL.md §2): the host's relay routes on them. */
export const FLAG_TERMINAL = 1;
export const FLAG_SESSION_START = 2;
export const FLAG_SHUTDOWN = 4;
