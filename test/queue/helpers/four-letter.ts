// ZooKeeper four-letter words over TCP (srvr, stat, mntr are whitelisted by the rig), with a timeout.

import net from 'node:net';

export function fourLetter(port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(word));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', () => undefined);
  });
}

/**
 * Client connections on the server at `port`, not counting the four-letter-word connection itself:
 * `stat` lists each as ` /127.0.0.1:<port>[<interest ops>](...)`, and ours is the one with `[0]`.
 */
export async function clientConnections(port: number): Promise<number> {
  const stat = await fourLetter(port, 'stat');
  return stat.split('\n').filter((line) => /^\s*\/[\d.]+:\d+\[[1-9]\]/.test(line)).length;
}
