// Test certificates made with the machine's `openssl` into a temp dir: one CA
// and leaf certificates signed by it, each with the subject CN and SANs asked
// for (usable as TLS server and client certificates).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  ca: string;
  caKey: string;
  /** Issue a certificate with subject CN `cn` and these SANs (e.g. ['IP:127.0.0.1', 'DNS:b']). */
  issue(file: string, cn: string, sans: string[]): Leaf;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=cwasi test CA'], dir);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    issue(file: string, cn: string, sans: string[]): Leaf {
      openssl(['req', ...ec, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`], dir);
      const ext = [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      ].join('\n');
      writeFileSync(join(dir, `${file}.ext`), `${ext}\n`);
      openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${file}.pem`,
        '-days', '2', '-extfile', `${file}.ext`], dir);
      return { cert: join(dir, `${file}.pem`), key: join(dir, `${file}.key`) };
    },
  };
}
