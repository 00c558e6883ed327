// With TLS, a node's name is bound to its certificate: the name a peer claims
// in its HELLO (or CHALLENGE) must be the certificate's subject CN or one of
// its DNS subjectAltNames, and a node cannot start under a name its own
// certificate does not carry. The cluster CA thus decides who may be "b";
// holding the secret is no longer enough to claim another node's name.
// Without TLS there is no certificate, and any holder of the secret can claim
// any name (docs/security.md).

import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { CwasiError } from '../errors.js';

/** The names a certificate vouches for: subject CN and DNS SANs. */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) names.push(line.slice(3));
  }
  for (const part of (cert.subjectAltName ?? '').split(',')) {
    const p = part.trim();
    if (p.startsWith('DNS:')) names.push(p.slice(4));
  }
  return names;
}

/** Throws E_CONFIG unless this node's own certificate carries `nodeName`. */
export function checkOwnCertificate(cert: string | Buffer, nodeName: string): void {
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (err) {
    throw new CwasiError('E_CONFIG', `the TLS certificate cannot be read: ${(err as Error).message}`);
  }
  const names = certificateNames(x);
  if (!names.includes(nodeName)) {
    throw new CwasiError('E_CONFIG', `node name ${JSON.stringify(nodeName)} is not in its TLS certificate (CN/DNS SAN: ${names.join(', ') || 'none'})`);
  }
}

/** Throws E_AUTH unless the peer's certificate on `socket` carries the name it claims. */
export function checkPeerCertificate(socket: TLSSocket, claimed: string): void {
  const cert = socket.getPeerX509Certificate();
  const names = cert === undefined ? [] : certificateNames(cert);
  if (!names.includes(claimed)) {
    throw new CwasiError('E_AUTH', `the peer claims node name ${JSON.stringify(claimed)}, but its certificate is for ${names.join(', ') || 'no name'}`);
  }
}
