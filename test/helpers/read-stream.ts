import { firstValueFrom, takeWhile, toArray } from 'rxjs';
import type { StreamMessage, Transport } from '../../src/transport/transport.js';

/** Every message of `stream` up to its last sequence as it is now, in order (ordered consumer). */
export async function readStream(transport: Pick<Transport, 'streamState' | 'consume'>, stream: string): Promise<StreamMessage[]> {
  const { lastSeq, messages } = await transport.streamState(stream);
  if (messages === 0) return [];
  return firstValueFrom(transport.consume({ stream }).pipe(takeWhile((m) => m.seq < lastSeq, true), toArray()));
}
