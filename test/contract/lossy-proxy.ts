/**
 * A loopback TCP pass-through to a server that can lose one answer: the reply to a given wire
 * request id is not forwarded, and that connection is cut instead. The server has done the work
 * (it wrote the reply); the client sees a network error. That is the outage a retry must survive
 * without doubling anything: the write landed, its answer did not.
 */
import net from 'node:net';

export interface LossyProxy {
  /** Connection string to the server through the proxy. */
  uri: string;
  /** Cut the connection that carries the reply to `requestId` (from a CommandStartedEvent) instead of forwarding it. */
  dropReplyTo(requestId: number): void;
  /** Replies dropped so far. */
  dropped(): number;
  close(): Promise<void>;
}

/** The standard wire message header: messageLength, requestID, responseTo, opCode (int32 LE each). */
const HEADER_BYTES = 16;

export async function lossyProxy(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<LossyProxy> {
  const armed = new Set<number>();
  const sockets = new Set<net.Socket>();
  let dropped = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, upstreamHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    // Replies are forwarded whole messages at a time, so one can be held back by its responseTo.
    let pending: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= HEADER_BYTES) {
        const length = pending.readInt32LE(0);
        if (pending.length < length) break;
        const responseTo = pending.readInt32LE(8);
        if (armed.delete(responseTo)) {
          dropped++;
          client.destroy();
          upstream.destroy();
          return;
        }
        client.write(pending.subarray(0, length));
        pending = pending.subarray(length);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    dropReplyTo: (requestId) => void armed.add(requestId),
    dropped: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
