// Mutual challenge–response authentication of two engine nodes that share a
// cluster secret. The secret never goes on the wire: each side sends a fresh
// random nonce, and each proves knowledge of the secret with an HMAC-SHA256
// over both nonces and both node names, under a role label so that a proof
// made by one role can never be replayed as the other's.
//
//   client                                       server
//   HELLO(nonce_c, name_c)            ──▶
//                                     ◀──        CHALLENGE(nonce_s, name_s)
//   PROOF(mac(CLIENT, transcript))    ──▶        verify, else refuse
//                                     ◀──        WELCOME(mac(SERVER, transcript))
//   verify, else refuse
//
//   transcript = nonce_c[32] ‖ nonce_s[32] ‖ u8 len ‖ name_c ‖ u8 len ‖ name_s
//   mac(ROLE, t) = HMAC-SHA256(secret, LABEL[ROLE] ‖ t)
//
// The server proves itself only after the client did, so a listener never
// hands an unauthenticated caller a MAC. Both proofs cover both nonces, so
// neither side can replay an old conversation, and the node names each side
// reports are bound into the proofs (IncomingStream.peer is authenticated).
// Comparisons use crypto.timingSafeEqual.
//
// Scope: this authenticates the peer at the start of a connection. Without
// TLS the bytes that follow are neither encrypted nor integrity-protected, so
// an on-path attacker could read or hijack them; give the transport `tls`
// options on networks that are not trusted.
//
// The two handshakes below are state machines without I/O: the transport feeds
// them decoded frames and sends what they return. Every step either returns
// the next message or throws E_AUTH.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CwasiError } from '../errors.js';
import {
  MAC_BYTES,
  MAX_NODE_NAME_BYTES,
  NONCE_BYTES,
  type ChallengeMessage,
  type HandshakeMessage,
  type HelloMessage,
  type ProofMessage,
  type WelcomeMessage,
} from './protocol.js';

/** Shortest accepted cluster secret (128 bits). */
export const MIN_SECRET_BYTES = 16;
const LABEL_CLIENT = Buffer.from('cwasi-net/1 client proof\0', 'latin1');
const LABEL_SERVER = Buffer.from('cwasi-net/1 server proof\0', 'latin1');

export type Role = 'client' | 'server';

/** What both proofs cover. */
export interface Transcript {
  clientNonce: Uint8Array;
  serverNonce: Uint8Array;
  clientName: string;
  serverName: string;
}

/** Throws E_CONFIG unless `secret` is a byte array of at least MIN_SECRET_BYTES. */
export function checkSecret(secret: unknown): asserts secret is Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length < MIN_SECRET_BYTES) {
    throw new CwasiError('E_CONFIG', `the cluster secret must be a Uint8Array of at least ${MIN_SECRET_BYTES} bytes`);
  }
}

/** Throws E_CONFIG unless `name` is a node name that fits a HELLO. */
export function checkNodeName(name: unknown): asserts name is string {
  const n = typeof name === 'string' ? Buffer.byteLength(name, 'utf8') : 0;
  if (typeof name !== 'string' || n < 1 || n > MAX_NODE_NAME_BYTES) {
    throw new CwasiError('E_CONFIG', `the node name must be a string of 1..${MAX_NODE_NAME_BYTES} UTF-8 bytes`);
  }
}

export function makeNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

/** HMAC-SHA256(secret, LABEL[role] ‖ transcript). */
export function computeProof(secret: Uint8Array, role: Role, t: Transcript): Uint8Array {
  const clientName = Buffer.from(t.clientName, 'utf8');
  const serverName = Buffer.from(t.serverName, 'utf8');
  const h = createHmac('sha256', secret);
  h.update(role === 'client' ? LABEL_CLIENT : LABEL_SERVER);
  h.update(t.clientNonce);
  h.update(t.serverNonce);
  h.update(Uint8Array.of(clientName.length));
  h.update(clientName);
  h.update(Uint8Array.of(serverName.length));
  h.update(serverName);
  return new Uint8Array(h.digest());
}

/** Constant-time check of a received proof. */
export function verifyProof(secret: Uint8Array, role: Role, t: Transcript, mac: Uint8Array): boolean {
  const expected = computeProof(secret, role, t);
  // timingSafeEqual throws on a length mismatch; the length is public anyway.
  return mac.length === MAC_BYTES && timingSafeEqual(expected, mac);
}

function refuse(message: string): CwasiError {
  return new CwasiError('E_AUTH', message);
}

/** The connecting side: hello() first, then feed it CHALLENGE and WELCOME. */
export class ClientHandshake {
  private readonly secret: Uint8Array;
  private readonly nodeName: string;
  private readonly nonce = makeNonce();
  private transcript: Transcript | null = null;
  private step: 'hello' | 'challenge' | 'welcome' | 'done' = 'hello';
  /** The server's node name once authenticated. */
  peer: string | null = null;

  constructor(secret: Uint8Array, nodeName: string) {
    checkSecret(secret);
    checkNodeName(nodeName);
    this.secret = secret;
    this.nodeName = nodeName;
  }

  get done(): boolean {
    return this.step === 'done';
  }

  hello(): HelloMessage {
    if (this.step !== 'hello') throw new CwasiError('E_INTERNAL', 'hello() called twice');
    this.step = 'challenge';
    return { type: 'hello', nonce: this.nonce, nodeName: this.nodeName };
  }

  /** Feed the next handshake message; returns what to send (PROOF), or null when authenticated. */
  receive(msg: HandshakeMessage): ProofMessage | null {
    if (this.step === 'challenge' && msg.type === 'challenge') return this.onChallenge(msg);
    if (this.step === 'welcome' && msg.type === 'welcome') {
      this.onWelcome(msg);
      return null;
    }
    throw refuse(`unexpected ${msg.type} while waiting for ${this.step}`);
  }

  private onChallenge(msg: ChallengeMessage): ProofMessage {
    this.transcript = { clientNonce: this.nonce, serverNonce: msg.nonce, clientName: this.nodeName, serverName: msg.nodeName };
    this.step = 'welcome';
    return { type: 'proof', mac: computeProof(this.secret, 'client', this.transcript) };
  }

  private onWelcome(msg: WelcomeMessage): void {
    if (!verifyProof(this.secret, 'server', this.transcript!, msg.mac)) {
      throw refuse(`node ${JSON.stringify(this.transcript!.serverName)} did not prove the cluster secret`);
    }
    this.step = 'done';
    this.peer = this.transcript!.serverName;
  }
}

/** The accepting side: feed it HELLO and PROOF. */
export class ServerHandshake {
  private readonly secret: Uint8Array;
  private readonly nodeName: string;
  private readonly nonce = makeNonce();
  private transcript: Transcript | null = null;
  private step: 'hello' | 'proof' | 'done' = 'hello';
  /** The client's node name once authenticated. */
  peer: string | null = null;

  constructor(secret: Uint8Array, nodeName: string) {
    checkSecret(secret);
    checkNodeName(nodeName);
    this.secret = secret;
    this.nodeName = nodeName;
  }

  get done(): boolean {
    return this.step === 'done';
  }

  /** Feed the next handshake message; returns what to send (CHALLENGE, then WELCOME once the client proved the secret). */
  receive(msg: HandshakeMessage): ChallengeMessage | WelcomeMessage {
    if (this.step === 'hello' && msg.type === 'hello') return this.onHello(msg);
    if (this.step === 'proof' && msg.type === 'proof') return this.onProof(msg);
    throw refuse(`unexpected ${msg.type} while waiting for ${this.step}`);
  }

  private onHello(msg: HelloMessage): ChallengeMessage {
    this.transcript = { clientNonce: msg.nonce, serverNonce: this.nonce, clientName: msg.nodeName, serverName: this.nodeName };
    this.step = 'proof';
    return { type: 'challenge', nonce: this.nonce, nodeName: this.nodeName };
  }

  private onProof(msg: ProofMessage): WelcomeMessage {
    if (!verifyProof(this.secret, 'client', this.transcript!, msg.mac)) {
      throw refuse(`node ${JSON.stringify(this.transcript!.clientName)} did not prove the cluster secret`);
    }
    this.step = 'done';
    this.peer = this.transcript!.clientName;
    return { type: 'welcome', mac: computeProof(this.secret, 'server', this.transcript!) };
  }
}
