// Reference variant "nest-flowgate-no-headers" (BENCH_FLOORS=1): the "nest-flowgate" variant with `headers: false`, to show the limiter's cost apart from the two RateLimit headers.
import { APP_GUARD } from '@nestjs/core';
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveNestHello } from './nest-hello-app.mjs';

const { FlowgateGuard, FlowgateModule } = loadFlowgate('flowgate/nestjs');
await serveNestHello({
  imports: [FlowgateModule.forRoot({ rate: 1e9, interval: '1s', headers: false })],
  providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
});
