// The Networked Buffer wire protocol: types and constants only, no behaviour.
// frames.ts encodes and parses these frames, auth.ts runs the handshake,
// connection.ts and the stream files move streams over them (transport.ts
// lists the layout).
//
// One TCP (or TLS) connection between two engine nodes carries a handshake,
// then any number of multiplexed streams. A stream moves one payload of a
// size declared up front ("totalBytes") from the node that opened it to the
// other node, as OPEN, then DATA frames, then an END acknowledgement back.
// An open-ended stream (FLAG_OPEN_ENDED on its OPEN) does not know its
// length when it opens: a live stream between functions, written while its
// producer runs; its last DATA frame carries END_OF_STREAM.
//
// FRAME HEADER (16 bytes, little endian)
//
//  ┌────────┬───────────┬──────┬──────────────────────────────────────────────┐
//  │ offset │ field     │ type │ meaning                                      │
//  ├────────┼───────────┼──────┼──────────────────────────────────────────────┤
//  │   0    │ MAGIC     │ u32  │ NET_MAGIC << 8 | NET_VERSION ('CWN', v2)     │
//  │   4    │ TYPE      │ u8   │ one of FRAME_TYPE                            │
//  │   5    │ FLAGS     │ u8   │ FLAG_* bits: END_OF_STREAM, OPEN_ENDED       │
//  │   6    │ RESERVED  │ u16  │ must be 0                                    │
//  │   8    │ STREAM    │ u32  │ stream id; 0 for connection-level frames     │
//  │  12    │ LENGTH    │ u32  │ payload bytes that follow the header         │
//  └────────┴───────────┴──────┴──────────────────────────────────────────────┘
//
// FRAME TYPES, their payloads and the bounds a parser enforces on LENGTH
// before it reads or allocates anything
//
//  ┌───────────┬──────┬────────┬───────────────────────┬──────────────────────────────────────┐
//  │ type      │ code │ stream │ LENGTH                │ payload                              │
//  ├───────────┼──────┼────────┼───────────────────────┼──────────────────────────────────────┤
//  │ HELLO     │  1   │   0    │ 34..288               │ client nonce[32], u8 n, name[n]      │
//  │ CHALLENGE │  2   │   0    │ 34..288               │ server nonce[32], u8 n, name[n]      │
//  │ PROOF     │  3   │   0    │ 32                    │ client HMAC-SHA256 (see auth.ts)     │
//  │ WELCOME   │  4   │   0    │ 32                    │ server HMAC-SHA256 (see auth.ts)     │
//  │ OPEN      │  16  │  ≠ 0   │ 8..8 + MAX_META_BYTES │ u64 totalBytes, UTF-8 JSON object    │
//  │ DATA      │  17  │  ≠ 0   │ 0..MAX_DATA_PAYLOAD   │ the next bytes of the stream         │
//  │ END       │  18  │  ≠ 0   │ 0                     │ receiver → opener: every byte landed │
//  │ ABORT     │  19  │  any   │ 2..MAX_ABORT_PAYLOAD  │ u8 n, code[n] (ASCII), UTF-8 message │
//  │ CREDIT    │  20  │  ≠ 0   │ 8                     │ receiver → opener: u64 credit limit  │
//  │ PING      │  32  │   0    │ 8                     │ opaque token                         │
//  │ PONG      │  33  │   0    │ 8                     │ the PING's token, echoed             │
//  └───────────┴──────┴────────┴───────────────────────┴──────────────────────────────────────┘
//
// OPEN PAYLOAD
//
//  ┌────────┬──────────────┬──────┬─────────────────────────────────────────────┐
//  │ offset │ field        │ type │ meaning                                     │
//  ├────────┼──────────────┼──────┼─────────────────────────────────────────────┤
//  │   0    │ TOTAL_LO     │ u32  │ low 32 bits of the stream's byte length     │
//  │   4    │ TOTAL_HI     │ u32  │ high bits (the total is ≤ 2^53 - 1; both    │
//  │        │              │      │ words 0 in an open-ended stream's OPEN)     │
//  │   8    │ META         │ utf8 │ a JSON object, ≤ MAX_META_BYTES             │
//  └────────┴──────────────┴──────┴─────────────────────────────────────────────┘
//
// HELLO / CHALLENGE PAYLOAD: NONCE at 0 (NONCE_BYTES), NAME_LENGTH (u8) at 32,
// NAME (UTF-8, 1..MAX_NODE_NAME_BYTES) at 33; LENGTH must be exactly 33 + n.
// ABORT PAYLOAD: CODE_LENGTH (u8, 1..MAX_ABORT_CODE_BYTES) at 0, CODE at 1,
// MESSAGE (UTF-8) after it; an ABORT on stream 0 closes the whole connection.
//
// CREDIT PAYLOAD
//
//  ┌────────┬──────────────┬──────┬─────────────────────────────────────────────┐
//  │ offset │ field        │ type │ meaning                                     │
//  ├────────┼──────────────┼──────┼─────────────────────────────────────────────┤
//  │   0    │ LIMIT_LO     │ u32  │ low 32 bits of the credit limit             │
//  │   4    │ LIMIT_HI     │ u32  │ high bits (the limit is ≤ totalBytes)       │
//  └────────┴──────────────┴──────┴─────────────────────────────────────────────┘
//
// FLOW CONTROL (per stream). The opener may send DATA of a stream up to its
// credit limit: STREAM_INITIAL_WINDOW bytes (or totalBytes, if smaller) from
// OPEN on, without waiting. The receiver raises the limit with CREDIT, an
// absolute byte offset that only grows and never exceeds totalBytes; it does
// so once its consumer has a destination for the bytes (receiveInto), so a
// stream nobody claims holds at most one window of the receiver's memory and
// never stops the connection for the others. DATA beyond the limit, or a
// CREDIT that lowers it or passes totalBytes, breaks the protocol and fails
// the connection.
//
// CONVERSATION
//
//   client (connects)                      server (listens)
//   HELLO(nonce_c, name_c)         ──▶
//                                  ◀──     CHALLENGE(nonce_s, name_s)
//   PROOF(mac_c)                   ──▶     verify mac_c, or ABORT(0, E_AUTH) + close
//                                  ◀──     WELCOME(mac_s)
//   verify mac_s, or close
//   OPEN(id, total, meta)          ──▶     'stream' event
//   DATA(id) … DATA(id, EOS)       ──▶     bytes land in the consumer's buffer
//                                  ◀──     END(id) once all bytes landed
//                                  ◀──     CREDIT(id, limit) once a consumer claims it
//   ABORT(id, code, message)       ◀─▶     either side gives up on a stream
//   PING(token) / PONG(token)      ◀─▶     keepalive, either side
//
// Stream ids: the connecting side opens odd ids, the accepting side even ids,
// each strictly increasing, so both sides could open streams on one
// connection without colliding and a frame for an id at or below the last
// one opened is recognisably stale (its stream was aborted) rather than
// a protocol violation.
//
// END_OF_STREAM is set on the frame that completes `totalBytes`: the last
// DATA frame, or OPEN itself when totalBytes is 0. It must be set on exactly
// that frame.
//
// OPEN-ENDED STREAMS. FLAG_OPEN_ENDED (on OPEN only, with TOTAL 0 and no
// END_OF_STREAM) opens a stream whose length is known only at its end: its
// sender sets END_OF_STREAM on the DATA frame after its last byte (an empty
// one when the last bytes went already), and the stream's length is what
// arrived until then. Flow control is as above with no upper bound but
// MAX_TOTAL_BYTES: the receiver raises the credit as its consumer takes the
// bytes (never further ahead than the window it holds for them), so memory
// on both sides stays bounded by the window, whatever the stream's length.
// The receiver's maxStreamBytes does not apply (nothing is allocated for the
// whole stream); END acknowledges the bytes that arrived.

/** 'CWN' in the high 24 bits of the MAGIC word. */
export const NET_MAGIC = 0x43574e;
/** 3: open-ended streams (FLAG_OPEN_ENDED); 2: per-stream flow control (CREDIT). Other versions are refused by the MAGIC check. */
export const NET_VERSION = 3;
/** The MAGIC word of every frame of this version. */
export const NET_MAGIC_WORD = ((NET_MAGIC << 8) | NET_VERSION) >>> 0;

export const FRAME_HEADER_BYTES = 16;
/** Byte offsets of the header fields. */
export const HEADER = { MAGIC: 0, TYPE: 4, FLAGS: 5, RESERVED: 6, STREAM: 8, LENGTH: 12 } as const;

export const FRAME_TYPE = {
  HELLO: 1,
  CHALLENGE: 2,
  PROOF: 3,
  WELCOME: 4,
  OPEN: 16,
  DATA: 17,
  END: 18,
  ABORT: 19,
  CREDIT: 20,
  PING: 32,
  PONG: 33,
} as const;
export type FrameTypeName = keyof typeof FRAME_TYPE;
export type FrameType = (typeof FRAME_TYPE)[FrameTypeName];

/** Set on the frame that completes a stream's totalBytes (last DATA, or OPEN when totalBytes is 0). */
export const FLAG_END_OF_STREAM = 0x01;
/** On OPEN only: the stream's length is not known yet (OPEN-ENDED STREAMS above). */
export const FLAG_OPEN_ENDED = 0x02;
/** Every flag bit this version defines; a frame with another bit set is malformed. */
export const FLAGS_KNOWN = FLAG_END_OF_STREAM | FLAG_OPEN_ENDED;

/** Largest DATA payload: a larger stream is sent as many frames. */
export const MAX_DATA_PAYLOAD = 4 * 1024 * 1024;
/** Largest OPEN metadata (UTF-8 JSON). */
export const MAX_META_BYTES = 64 * 1024;
/** Largest ABORT payload (code and message). */
export const MAX_ABORT_PAYLOAD = 4096;
/** Longest error code in an ABORT. */
export const MAX_ABORT_CODE_BYTES = 64;
/** Longest node name (UTF-8 bytes) in HELLO / CHALLENGE. */
export const MAX_NODE_NAME_BYTES = 255;
/** Random bytes each side contributes to the handshake. */
export const NONCE_BYTES = 32;
/** HMAC-SHA256 output. */
export const MAC_BYTES = 32;
/** Credit a stream has from OPEN on, before any CREDIT (see FLOW CONTROL). */
export const STREAM_INITIAL_WINDOW = 256 * 1024;
/** CREDIT payload: one u64. */
export const CREDIT_PAYLOAD_BYTES = 8;
/** PING / PONG token. */
export const PING_TOKEN_BYTES = 8;
/** Largest stream length the protocol can express exactly in a JS number. */
export const MAX_TOTAL_BYTES = Number.MAX_SAFE_INTEGER;

/** Byte offsets inside an OPEN payload. */
export const OPEN = { TOTAL_LO: 0, TOTAL_HI: 4, META: 8 } as const;
/** Byte offsets inside a HELLO / CHALLENGE payload. */
export const GREETING = { NONCE: 0, NAME_LENGTH: NONCE_BYTES, NAME: NONCE_BYTES + 1 } as const;
/** Byte offsets inside a CREDIT payload. */
export const CREDIT = { LIMIT_LO: 0, LIMIT_HI: 4 } as const;
/** Byte offsets inside an ABORT payload. */
export const ABORT = { CODE_LENGTH: 0, CODE: 1 } as const;

/** Inclusive LENGTH bounds per frame type, checked on the header before the payload is read. */
export const PAYLOAD_LIMITS: Readonly<Record<FrameType, { readonly min: number; readonly max: number }>> = {
  [FRAME_TYPE.HELLO]: { min: GREETING.NAME + 1, max: GREETING.NAME + MAX_NODE_NAME_BYTES },
  [FRAME_TYPE.CHALLENGE]: { min: GREETING.NAME + 1, max: GREETING.NAME + MAX_NODE_NAME_BYTES },
  [FRAME_TYPE.PROOF]: { min: MAC_BYTES, max: MAC_BYTES },
  [FRAME_TYPE.WELCOME]: { min: MAC_BYTES, max: MAC_BYTES },
  [FRAME_TYPE.OPEN]: { min: OPEN.META, max: OPEN.META + MAX_META_BYTES },
  [FRAME_TYPE.DATA]: { min: 0, max: MAX_DATA_PAYLOAD },
  [FRAME_TYPE.END]: { min: 0, max: 0 },
  [FRAME_TYPE.ABORT]: { min: ABORT.CODE + 1, max: MAX_ABORT_PAYLOAD },
  [FRAME_TYPE.CREDIT]: { min: CREDIT_PAYLOAD_BYTES, max: CREDIT_PAYLOAD_BYTES },
  [FRAME_TYPE.PING]: { min: PING_TOKEN_BYTES, max: PING_TOKEN_BYTES },
  [FRAME_TYPE.PONG]: { min: PING_TOKEN_BYTES, max: PING_TOKEN_BYTES },
};

/** Largest payload of any frame other than DATA (the parser's control buffer never grows beyond it). */
export const MAX_CONTROL_PAYLOAD = OPEN.META + MAX_META_BYTES;

/** Stream metadata: a JSON object, opaque to the transport. */
export type StreamMeta = { [key: string]: unknown };

/** The decoded header of one frame. */
export interface FrameHeader {
  type: FrameType;
  flags: number;
  streamId: number;
  length: number;
}

// ── Messages: one interface per frame type, joined in NetMessage ───────────

export interface HelloMessage {
  type: 'hello';
  nonce: Uint8Array;
  nodeName: string;
}

export interface ChallengeMessage {
  type: 'challenge';
  nonce: Uint8Array;
  nodeName: string;
}

export interface ProofMessage {
  type: 'proof';
  mac: Uint8Array;
}

export interface WelcomeMessage {
  type: 'welcome';
  mac: Uint8Array;
}

export interface OpenMessage {
  type: 'open';
  streamId: number;
  totalBytes: number;
  meta: StreamMeta;
  /** Set exactly when totalBytes is 0 (never on an open-ended stream). */
  endOfStream: boolean;
  /** The length is not known yet; totalBytes then reads MAX_TOTAL_BYTES (decoded OPENs always say). */
  openEnded?: boolean;
}

export interface DataMessage {
  type: 'data';
  streamId: number;
  bytes: Uint8Array;
  /** Set on the frame that completes the stream. */
  endOfStream: boolean;
}

export interface EndMessage {
  type: 'end';
  streamId: number;
}

export interface AbortMessage {
  type: 'abort';
  /** 0 for the whole connection. */
  streamId: number;
  /** An ErrorCode when the peer is a cwasi node; rebuilt with CwasiError.fromRecord. */
  code: string;
  message: string;
}

export interface CreditMessage {
  type: 'credit';
  streamId: number;
  /** The opener may send bytes [0, limit) of the stream. */
  limit: number;
}

export interface PingMessage {
  type: 'ping';
  token: Uint8Array;
}

export interface PongMessage {
  type: 'pong';
  token: Uint8Array;
}

export type HandshakeMessage = HelloMessage | ChallengeMessage | ProofMessage | WelcomeMessage;
export type StreamMessage = OpenMessage | DataMessage | EndMessage | AbortMessage | CreditMessage;
export type NetMessage = HandshakeMessage | StreamMessage | PingMessage | PongMessage;
export type NetMessageType = NetMessage['type'];

/** The frame type code of each message type. */
export const MESSAGE_FRAME_TYPE: Readonly<Record<NetMessageType, FrameType>> = {
  hello: FRAME_TYPE.HELLO,
  challenge: FRAME_TYPE.CHALLENGE,
  proof: FRAME_TYPE.PROOF,
  welcome: FRAME_TYPE.WELCOME,
  open: FRAME_TYPE.OPEN,
  data: FRAME_TYPE.DATA,
  end: FRAME_TYPE.END,
  abort: FRAME_TYPE.ABORT,
  credit: FRAME_TYPE.CREDIT,
  ping: FRAME_TYPE.PING,
  pong: FRAME_TYPE.PONG,
};
