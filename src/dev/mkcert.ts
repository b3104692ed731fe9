import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLocal } from '../runners/local.js';
import { ExternalError } from '../util/errors.js';
import { makeDirectory } from '../util/make-dir.js';

/** One certificate for every dev domain, from mkcert (original design §5.4). */
export interface DevCertificate {
  certFile: string;
  keyFile: string;
  /** mkcert's root CA (for NODE_EXTRA_CA_CERTS), when it can be found. */
  caFile: string | undefined;
  /** True when the existing files already covered every domain. */
  reused: boolean;
}

export const CERT_FILE = 'dev-local.pem';
export const KEY_FILE = 'dev-local-key.pem';

/** Whether a PEM certificate names every domain and stays valid for at least another day. */
export function certificateCovers(pem: string, domains: readonly string[], now: Date = new Date()): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return false;
  }
  if (new Date(certificate.validTo).getTime() < now.getTime() + 24 * 3600 * 1000) return false;
  return domains.every((domain) => certificate.checkHost(domain) !== undefined);
}

export interface EnsureCertificateOptions {
  certDir: string;
  domains: readonly string[];
  mkcert: string;
  env: Record<string, string>;
  cwd: string;
  signal?: AbortSignal;
}

async function caRoot(options: EnsureCertificateOptions): Promise<string | undefined> {
  try {
    const result = await runLocal([options.mkcert, '-CAROOT'], {
      cwd: options.cwd,
      env: options.env,
      signal: options.signal,
      allowFailure: true,
      ownProcessGroup: true,
    });
    const dir = result.stdout.trim();
    const file = join(dir, 'rootCA.pem');
    return result.exitCode === 0 && dir !== '' && existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The argv that makes one certificate for `domains`: options first, then `--` (Go's flag parsing stops
 * there), so that no domain can be read as an option whatever it starts with.
 */
export function mkcertArgv(mkcert: string, certFile: string, keyFile: string, domains: string[]): string[] {
  return [mkcert, '-cert-file', certFile, '-key-file', keyFile, '--', ...domains];
}

/**
 * Reuses `.stagecraft/dev/certs/dev-local.pem` when it covers every domain, else asks mkcert for a
 * new one (mkcert creates its local CA on first use; `mkcert -install` trusts it in browsers).
 */
export async function ensureCertificate(options: EnsureCertificateOptions): Promise<DevCertificate> {
  const domains = [...new Set(options.domains)].sort();
  if (domains.length === 0) throw new ExternalError('mkcert: no domains to make a certificate for');
  const certFile = join(options.certDir, CERT_FILE);
  const keyFile = join(options.certDir, KEY_FILE);
  if (
    existsSync(certFile) &&
    existsSync(keyFile) &&
    certificateCovers(readFileSync(certFile, 'utf8'), domains)
  ) {
    return { certFile, keyFile, caFile: await caRoot(options), reused: true };
  }
  await makeDirectory(options.certDir, 0o755);
  const result = await runLocal(mkcertArgv(options.mkcert, certFile, keyFile, domains), {
    cwd: options.certDir,
    env: options.env,
    signal: options.signal,
    allowFailure: true,
    ownProcessGroup: true,
  });
  if (result.exitCode !== 0) {
    const output = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-5);
    throw new ExternalError(`mkcert failed (exit ${result.exitCode})`, {
      details: output,
      command: `mkcert -cert-file ${certFile} -key-file ${keyFile} -- ${domains.join(' ')}`,
      hint: 'check that mkcert works (`mkcert -install`), or run `stagecraft dev --no-https`',
    });
  }
  return { certFile, keyFile, caFile: await caRoot(options), reused: false };
}
