import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findOnPath } from "./etcd-bin.js";

/** Client-side TLS material for a TLS cluster: the CA and a client certificate signed by it. */
export interface ClusterTls {
  /** CA certificate (PEM). */
  ca: string;
  /** Client certificate (PEM). */
  cert: string;
  /** Client private key (PEM). */
  key: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** Everything generated: the client material plus the server certificate the members present. */
export interface GeneratedTls extends ClusterTls {
  serverCertPath: string;
  serverKeyPath: string;
}

function openssl(args: string[], cwd: string): Promise<void> {
  const bin = findOnPath("openssl", ["/usr/bin", "/bin"]);
  if (bin === undefined) return Promise.reject(new Error("openssl not found: TLS clusters need the openssl CLI"));
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`openssl ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
    });
  });
}

// P-256 rather than RSA: key generation is near-instant, which keeps TLS test start-up fast.
const NEW_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function issue(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(["req", "-new", ...NEW_EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
  await openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
      String(Date.now() + Math.floor(Math.random() * 1000)), "-days", "7", "-out", `${name}.crt`, "-extfile", `${name}.ext`],
    dir,
  );
}

/**
 * Generates a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate
 * into `dir`. Generated per run so no key material is ever checked in or reused.
 */
export async function generateTls(dir: string): Promise<GeneratedTls> {
  await openssl(
    ["req", "-x509", ...NEW_EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
      "-subj", "/CN=etcd-ts test CA", "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  // The server certificate also allows clientAuth: etcd's built-in gRPC gateway dials its own
  // client port with it, which fails under --client-cert-auth otherwise.
  const server = issue(dir, "server", "/CN=127.0.0.1",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
  const client = issue(dir, "client", "/CN=etcd-ts-client",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  await Promise.all([server, client]);
  const caPath = join(dir, "ca.crt");
  const certPath = join(dir, "client.crt");
  const keyPath = join(dir, "client.key");
  const [ca, cert, key] = await Promise.all([readFile(caPath, "utf8"), readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  return { ca, cert, key, caPath, certPath, keyPath, serverCertPath: join(dir, "server.crt"), serverKeyPath: join(dir, "server.key") };
}
