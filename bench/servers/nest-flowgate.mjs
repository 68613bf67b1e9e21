// Variant "nest-flowgate": the Nest hello-world app behind flowgate/nestjs (built package, memory store, limit far above the load):
// FlowgateModule.forRoot + FlowgateGuard as APP_GUARD, as in examples/nestjs.
import { APP_GUARD } from '@nestjs/core';
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveNestHello } from './nest-hello-app.mjs';

const { FlowgateGuard, FlowgateModule } = loadFlowgate('flowgate/nestjs');
await serveNestHello({
  imports: [FlowgateModule.forRoot({ rate: 1e9, interval: '1s' })],
  providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
});
