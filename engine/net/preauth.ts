// Admission of accepted connections before they authenticate.
//
// An unauthenticated peer costs this node a socket, a 512-byte read buffer
// and a timer until it proves the cluster secret or its pre-auth deadline
// passes. The gate bounds how many such connections are held at once:
//
//   ┌──────────────────────────┬───────────────────────────────┬──────────────────────────────┐
//   │ bound                    │ option (default)              │ counted as                   │
//   ├──────────────────────────┼───────────────────────────────┼──────────────────────────────┤
//   │ per remote address       │ maxPendingPerAddress (8)      │ preAuthRefusedPerAddress     │
//   │ overall                  │ maxPendingHandshakes (64)     │ preAuthRefusedGlobal         │
//   │ overall, for addresses   │ maxPendingHandshakes minus a  │ preAuthRefusedGlobal         │
//   │ of no known peer         │ quarter kept for peers (48)   │                              │
//   │ time to authenticate     │ preAuthTimeoutMs (2000)       │ preAuthTimeouts              │
//   │ proof wrong / garbage    │ (none: refused at once)       │ preAuthBadAuth               │
//   └──────────────────────────┴───────────────────────────────┴──────────────────────────────┘
//
// The per-address bound is checked first, so that one address flooding the
// listener is refused on its own and never fills the overall bound: other
// addresses still find free slots. A quarter of the overall slots is kept for
// the addresses of known peers (a cluster's live nodes, `preferred`): a flood
// from many addresses that are no peer's fills the rest and is refused there,
// and a node's own peers still get in to prove the secret. "Address" is the IPv4 address, or the /64
// prefix of an IPv6 address (one host commonly holds a whole /64). A refused
// connection is destroyed on arrival, before anything is read from it.
// Under TLS the slot is taken when the TCP connection arrives and covers the
// TLS handshake too; the deadline spans both handshakes.

import net from 'node:net';
import type { Counters } from './options.js';

/** One accepted connection holding a pre-auth slot. */
export interface PreAuthSlot {
  readonly key: string;
  readonly admittedAt: number;
  released: boolean;
}

/** The key an address is limited under: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its /64. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(ip)) {
    const zoneless = ip.split('%')[0]!;
    const [head, tail] = zoneless.includes('::') ? zoneless.split('::') as [string, string] : [zoneless, undefined];
    const left = head === '' ? [] : head.split(':');
    const right = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
    return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
  }
  return ip;
}

export class PreAuthGate {
  private readonly byKey = new Map<string, number>();
  private held = 0;
  /** Whether an address key is a known peer's; asked only when the unreserved slots are all held. */
  preferred: (key: string) => boolean = () => false;

  constructor(
    private readonly limits: { maxPendingPerAddress: number; maxPendingHandshakes: number },
    private readonly counters: Counters,
  ) {}

  /** Connections holding a slot now. */
  get pending(): number {
    return this.held;
  }

  /** Take a slot for a connection from `ip`, or count the refusal and return null. */
  admit(ip: string): PreAuthSlot | null {
    const key = addressKey(ip);
    const mine = this.byKey.get(key) ?? 0;
    // Bound: per address first, so a flood from one address never reaches the overall bound.
    if (mine >= this.limits.maxPendingPerAddress) {
      this.counters.preAuthRefusedPerAddress++;
      this.counters.authFailures++;
      return null;
    }
    // Bound: unauthenticated connections held at once, all addresses together.
    const total = this.limits.maxPendingHandshakes;
    if (this.held >= total || (this.held >= total - Math.floor(total / 4) && !this.preferred(key))) {
      this.counters.preAuthRefusedGlobal++;
      this.counters.authFailures++;
      return null;
    }
    this.byKey.set(key, mine + 1);
    this.held++;
    this.counters.preAuthAccepted++;
    return { key, admittedAt: Date.now(), released: false };
  }

  /** The connection authenticated or went away: free its slot (idempotent). */
  release(slot: PreAuthSlot): void {
    if (slot.released) return;
    slot.released = true;
    this.held--;
    const left = (this.byKey.get(slot.key) ?? 1) - 1;
    if (left <= 0) this.byKey.delete(slot.key);
    else this.byKey.set(slot.key, left);
  }
}
