/**
 * Step 10: the host's TLS interception CA. Copied as microsandbox-ca.pem into each trust
 * directory that exists (best effort: logged), appended to the first bundle that exists (else the
 * first is created) unless it is already there, and exported to every exec through
 * SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and NODE_EXTRA_CA_CERTS.
 */
import {
  appendText,
  copyFile,
  exists,
  isDirectory,
  joinPath,
  makeDirs,
  parentDir,
  readText,
  writeText,
} from "../../sys/files.ts";
import { GUEST_TLS_CA_PATH } from "../../protocol/constants.ts";

export const TRUST_DIRS = ["/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors"];
export const BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];
export const CA_FILE_NAME = "microsandbox-ca.pem";

export interface CaResult {
  bundle: string;
  env: Record<string, string>;
  warnings: string[];
}

/** Installs the CA under `root`; null when there is no CA. `caPath` is the guest path of the CA. */
export function installCa(root = "/", caPath = GUEST_TLS_CA_PATH): CaResult | null {
  const ca = joinPath(root, caPath);
  if (!exists(ca)) return null;
  const pem = readText(ca);
  const block = pem.endsWith("\n") ? pem : pem + "\n";
  const warnings: string[] = [];
  for (const dir of TRUST_DIRS) {
    if (!isDirectory(joinPath(root, dir))) continue;
    try {
      copyFile(ca, joinPath(root, dir, CA_FILE_NAME));
    } catch (e) {
      warnings.push(`copy CA into ${dir}: ${(e as Error).message}`);
    }
  }
  const bundle = BUNDLES.find((b) => exists(joinPath(root, b))) ?? BUNDLES[0]!;
  const bundlePath = joinPath(root, bundle);
  if (!exists(bundlePath)) {
    makeDirs(parentDir(bundlePath));
    writeText(bundlePath, block);
  } else {
    const current = readText(bundlePath);
    // Idempotent: a restarted setup or a second boot on the same root never appends twice.
    if (!current.includes(block.trim()))
      appendText(bundlePath, (current.endsWith("\n") || current === "" ? "" : "\n") + block);
  }
  return {
    bundle,
    env: {
      SSL_CERT_FILE: bundle,
      REQUESTS_CA_BUNDLE: bundle,
      CURL_CA_BUNDLE: bundle,
      NODE_EXTRA_CA_CERTS: caPath,
    },
    warnings,
  };
}
