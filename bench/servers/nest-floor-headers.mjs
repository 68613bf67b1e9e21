// Reference variant "nest-floor-headers" (BENCH_FLOORS=1): an APP_GUARD that only sets two constant headers of
// flowgate's size on the response and returns true: the floor of a guard that sends the RateLimit headers.
import { Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { serveNestHello } from './nest-hello-app.mjs';

class HeadersGuard {
  canActivate(context) {
    const response = context.switchToHttp().getResponse();
    response.setHeader('RateLimit-Policy', '"default";q=1000000000;w=1');
    response.setHeader('RateLimit', '"default";r=999999999;t=0');
    return true;
  }
}
Reflect.decorate([Injectable()], HeadersGuard);

await serveNestHello({ providers: [{ provide: APP_GUARD, useClass: HeadersGuard }] });
