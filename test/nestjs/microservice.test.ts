// Issue 5: a non-HTTP context is "handled through the hooks, never a crash": a real TCP microservice
// whose handler a FlowgateGuard subclass limits. A rejected call gets an error reply at once (the
// module's filter answers it the RPC way), not silence.

import { createServer, type AddressInfo } from 'node:net';
import { Controller, Module, UseGuards, type ExecutionContext, type INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom, timeout } from 'rxjs';
import { FlowgateGuard, FlowgateModule, RateLimit, type FlowgateRpcError } from '../../adapters/nestjs/index.js';

/** Limits RPC calls by the client named in the message; keeps the default `onRejected`. */
class RpcGuard extends FlowgateGuard {
  protected override shouldSkip(): boolean {
    return false;
  }

  protected override getKey(context: ExecutionContext): string {
    return `client:${context.switchToRpc().getData<{ client: string }>().client}`;
  }
}

@Controller()
class PingHandlers {
  @UseGuards(RpcGuard)
  @RateLimit({ name: 'rpc', rate: 1, interval: '1m', burst: 1 })
  @MessagePattern('ping')
  ping(): string {
    return 'pong';
  }
}

@Module({ imports: [FlowgateModule.forRoot({})], controllers: [PingHandlers] })
class RpcModule {}

/** A free TCP port of 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let service: INestMicroservice;
let client: ClientProxy;

beforeAll(async () => {
  const port = await freePort();
  const moduleRef = await Test.createTestingModule({ imports: [RpcModule] }).compile();
  service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
  await service.listen();
  client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await client.connect();
});

afterAll(async () => {
  client?.close();
  await service?.close();
});

/** Sends `ping` for `who`: the reply, or the error reply; a call unanswered within 5 s fails the test. */
async function ping(who: string): Promise<{ reply?: unknown; error?: unknown }> {
  try {
    return { reply: await firstValueFrom(client.send('ping', { client: who }).pipe(timeout(5_000))) };
  } catch (error) {
    return { error };
  }
}

test('a rejected RPC call gets an error reply with the status, Retry-After in seconds and the problem; other clients are served', async () => {
  expect(await ping('a')).toEqual({ reply: 'pong' });
  const started = performance.now();
  const rejected = await ping('a');
  // The previous code threw the exception from the filter: Nest sent no reply, and only the
  // client's own timeout (here 5 s; none by default) ended the call.
  expect(performance.now() - started).toBeLessThan(4_000);
  const error = rejected.error as FlowgateRpcError;
  expect(error).toMatchObject({ status: 'error', statusCode: 429, problem: { status: 429 } });
  expect(error.message).toEqual(expect.any(String));
  expect(error.retryAfter).toBeGreaterThanOrEqual(59);
  expect(await ping('b')).toEqual({ reply: 'pong' });
});
