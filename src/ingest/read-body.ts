import type { IncomingMessage } from 'node:http';
import { WebhookRejectedError } from './webhook-rejected-error.js';

/**
 * The request body, at most `maxBytes`: a larger `Content-Length` is refused before a byte is
 * read, and a chunked body is refused as soon as it passes the limit, so memory per request is
 * bounded whatever the sender does.
 * @throws WebhookRejectedError 413 past the limit.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (size: string) => new WebhookRejectedError(413, 'payload-too-large', `body is ${size}; the limit is ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        reject(tooLarge(`over ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
