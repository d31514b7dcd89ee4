import { readFile } from 'node:fs/promises';
import { isIP, createConnection, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { NatsTlsOptions } from './nats-connect-options.js';

/** What {@link probeNatsServer} found: reachable up to the point where authentication starts, or why not. */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Walks the first steps of a NATS connection by hand — TCP, the server's INFO, the TLS handshake
 * with the given files, one PING after it — to name what went wrong in words a user can act on.
 *
 * It exists because the client cannot say it: when a server that verifies client certificates
 * (mTLS, `verify: true`) gets none, TLS 1.3 lets the client finish its side of the handshake,
 * the server's alert then closes the socket, and the client waits for its connect timeout and
 * reports only "timeout". Authentication is left to the client (its errors are already clear).
 * Never sends credentials; resolves within `timeoutMs`; never rejects.
 */
export async function probeNatsServer(url: string, tls: NatsTlsOptions | undefined, timeoutMs: number): Promise<ProbeResult> {
  const target = parseServer(url);
  if (target === undefined) return { ok: false, reason: `'${url}' is not a server address (nats://host:port)` };
  let socket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms (${stage})` }), timeoutMs);
  });
  let stage = 'connecting';
  const walk = async (): Promise<ProbeResult> => {
    const tcp = createConnection({ host: target.host, port: target.port });
    socket = tcp;
    tcp.setNoDelay(true);
    const connectError = await new Promise<Error | undefined>((resolve) => {
      tcp.once('connect', () => resolve(undefined));
      tcp.once('error', (err) => resolve(err));
    });
    if (connectError !== undefined) return { ok: false, reason: describeSocketError(connectError, target) };
    stage = 'waiting for the server INFO';
    const first = await readLine(tcp);
    if (first instanceof Error)
      return {
        ok: false,
        reason: `the connection closed before the server said INFO (${first.message}): is it a NATS server, or one that wants TLS first (handshakeFirst)?`,
      };
    if (!first.startsWith('INFO ')) return { ok: false, reason: 'the server did not start with INFO: is it a NATS server?' };
    let info: { tls_required?: boolean; tls_available?: boolean; tls_verify?: boolean };
    try {
      info = JSON.parse(first.slice(5)) as typeof info;
    } catch {
      return { ok: false, reason: 'the server sent an INFO that is not JSON: is it a NATS server?' };
    }
    const wantTls = info.tls_required === true || (tls !== undefined && info.tls_available === true) || target.tls;
    if (!wantTls) {
      if (tls !== undefined) return { ok: false, reason: 'TLS options were given but the server does not offer TLS' };
      return { ok: true };
    }
    if (info.tls_required !== true && info.tls_available !== true) {
      return { ok: false, reason: 'the URL asks for TLS but the server does not offer it' };
    }
    stage = 'TLS handshake';
    let options: TlsConnectionOptions;
    try {
      options = await tlsOptions(tcp, target.host, tls);
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    const secure = tlsConnect(options);
    socket = secure;
    const handshake = await new Promise<Error | undefined>((resolve) => {
      secure.once('secureConnect', () => resolve(undefined));
      secure.once('error', (err: Error) => resolve(err));
    });
    if (handshake !== undefined) return { ok: false, reason: describeTlsError(handshake, tls, info.tls_verify === true) };
    // With TLS 1.3 the server checks the client certificate after the client's side is done:
    // only an answer to a PING shows the handshake was accepted.
    stage = 'waiting for the server to accept the TLS handshake';
    secure.write('PING\r\n');
    const answer = await new Promise<Error | undefined>((resolve) => {
      secure.once('data', () => resolve(undefined));
      secure.once('error', (err: Error) => resolve(err));
      secure.once('close', () => resolve(new Error('closed')));
    });
    if (answer !== undefined) return { ok: false, reason: describeTlsError(answer, tls, info.tls_verify === true) };
    return { ok: true };
  };
  try {
    return await Promise.race([walk().catch((err: unknown) => ({ ok: false as const, reason: (err as Error).message })), timeout]);
  } finally {
    clearTimeout(timer);
    socket?.destroy();
  }
}

interface Target {
  host: string;
  port: number;
  tls: boolean;
}

function parseServer(url: string): Target | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `nats://${url}`;
  try {
    const u = new URL(withScheme);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') return undefined;
    return { host, port: u.port === '' ? 4222 : Number(u.port), tls: u.protocol === 'tls:' };
  } catch {
    return undefined;
  }
}

async function tlsOptions(socket: Socket, host: string, tls: NatsTlsOptions | undefined): Promise<TlsConnectionOptions> {
  const read = async (what: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([read('CA file', tls?.caFile), read('certificate', tls?.certFile), read('key', tls?.keyFile)]);
  return {
    socket,
    rejectUnauthorized: true,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}

function describeSocketError(err: NodeJS.ErrnoException, target: Target): string {
  const where = `${target.host}:${target.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused: nothing listens on ${where}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host '${target.host}' not found`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} is unreachable from here`;
    case 'ETIMEDOUT':
      return `connecting to ${where} timed out`;
    default:
      return `cannot connect to ${where}: ${err.message}`;
  }
}

function describeTlsError(err: NodeJS.ErrnoException, tls: NatsTlsOptions | undefined, serverVerifies: boolean): string {
  const code = err.code ?? '';
  const hasCert = tls?.certFile !== undefined;
  if (/CERTIFICATE_REQUIRED/.test(code) || (serverVerifies && !hasCert)) {
    return 'the server requires a client certificate (mTLS) and none was given: use --tls-cert and --tls-key (NATS_CERT, NATS_KEY)';
  }
  if (/BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|ACCESS_DENIED/.test(code)) {
    return `the server rejected the client certificate (${err.message.trim()}): is it signed by a CA the server trusts?`;
  }
  if (/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_HAS_EXPIRED/.test(code)) {
    return `the server's certificate is not trusted (${err.message.trim()}): give its CA with --tls-ca (NATS_CA), and connect by a name the certificate holds`;
  }
  if (/ERR_OSSL|PEM|KEY_VALUES_MISMATCH/.test(code)) return `the TLS files cannot be used: ${err.message.trim()}`;
  if (err.message === 'closed') return 'the server closed the connection after the TLS handshake: it may require a client certificate it accepts (mTLS)';
  return `TLS failed: ${err.message.trim()}`;
}

/** Reads up to the first CRLF (at most 64 KiB), or the error that ended the socket first. */
function readLine(socket: Socket): Promise<string | Error> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end >= 0 || buffered.length > 65_536) {
        cleanup();
        socket.pause();
        resolve(end >= 0 ? buffered.slice(0, end) : buffered);
      }
    };
    const onError = (err: Error) => {
      cleanup();
      resolve(err);
    };
    const onClose = () => {
      cleanup();
      resolve(new Error('closed'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
