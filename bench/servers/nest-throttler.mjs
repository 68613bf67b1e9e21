// Variant "nest-throttler": the Nest hello-world app behind @nestjs/throttler (its in-memory storage, limit far above the load):
// ThrottlerModule.forRoot + ThrottlerGuard as APP_GUARD, as its README shows.
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { APP_GUARD } from '@nestjs/core';
import { serveNestHello } from './nest-hello-app.mjs';

// ttl 1 s like the other variants' windows. The storage keeps one expiry time per hit within ttl
// (a sliding log), so a longer ttl with a limit this far above the load would only grow that log.
await serveNestHello({
  imports: [ThrottlerModule.forRoot([{ ttl: 1000, limit: 1e9 }])],
  providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
});
