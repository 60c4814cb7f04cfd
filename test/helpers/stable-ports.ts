/**
 * Free ports for a test that stops a server and starts it again on the same port (the dev stack's restarts). A port
 * from `getFreePort()` (port 0) lies in the kernel's ephemeral range, from which every outgoing connection of every
 * process on the machine also takes its local port: between the stop and the restart one of them can sit on it, and
 * the restart fails with "address already in use" (seen in CI for the Temporal UI port). Ports below that range are
 * never handed out that way; these are picked at random there and checked free by binding them.
 */
import fs from 'node:fs';
import net from 'node:net';

/** The first port of the ephemeral range (Linux), else the IANA one. */
function ephemeralStart(): number {
  try {
    const [start] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(start);
    if (Number.isInteger(n) && n > 20_000) return n;
  } catch {
    // not Linux: fall back below
  }
  return 49_152;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` distinct free ports between 20000 and the start of the ephemeral range. */
export async function stablePorts(count: number): Promise<number[]> {
  const low = 20_000;
  const high = ephemeralStart();
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000) throw new Error(`no ${count} free ports found between ${low} and ${high}`);
    const port = low + Math.floor(Math.random() * (high - low));
    if (!ports.includes(port) && (await isFree(port))) ports.push(port);
  }
  return ports;
}
