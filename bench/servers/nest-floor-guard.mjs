// Reference variant "nest-floor-guard" (BENCH_FLOORS=1): an APP_GUARD whose canActivate returns true at once,
// the cost of Nest's guard machinery alone.
import { Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { serveNestHello } from './nest-hello-app.mjs';

class PassGuard {
  canActivate() {
    return true;
  }
}
Reflect.decorate([Injectable()], PassGuard);

await serveNestHello({ providers: [{ provide: APP_GUARD, useClass: PassGuard }] });
