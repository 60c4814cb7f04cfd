/**
 * The bench's database-server CPU line finds mariadbd by the port of its URL (bench/cpu.ts, loopbackListenerPid): the
 * process holding the listening socket, from /proc. Here the listener is this test's own server.
 */
import fs from 'node:fs';
import net from 'node:net';
import { loopbackListenerPid } from '../../bench/cpu';

const linux = fs.existsSync('/proc/net/tcp');

(linux ? describe : describe.skip)('loopbackListenerPid', () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  test('names the process listening on a loopback port', () => {
    expect(loopbackListenerPid('127.0.0.1', port)).toBe(process.pid);
    expect(loopbackListenerPid('localhost', port)).toBe(process.pid);
  });

  test('is undefined for a port nobody listens on and for a host that is not this machine', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(loopbackListenerPid('127.0.0.1', freePort)).toBeUndefined();
    expect(loopbackListenerPid('db.example.org', port)).toBeUndefined();
  });
});
