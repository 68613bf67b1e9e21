// The hello-world NestJS 11 app (on @nestjs/platform-express) every Nest variant serves, on a free loopback port.
// Plain JavaScript: Nest's decorators are applied with Reflect.decorate, as tsc's output does.
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';

class HelloController {
  hello() {
    return 'Hello, world!';
  }
}
Reflect.decorate([Get()], HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));
Reflect.decorate([Controller()], HelloController);

/**
 * Serves `GET /` → "Hello, world!" from a controller on 127.0.0.1 (port chosen by the OS), the root
 * module also importing `imports` and providing `providers` (a limiter module and its APP_GUARD),
 * and prints one JSON line `{"port": N, "pid": P}` on stdout for the orchestrator once listening.
 */
export async function serveNestHello({ imports = [], providers = [] } = {}) {
  class AppModule {}
  Reflect.decorate([Module({ imports, controllers: [HelloController], providers })], AppModule);
  const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ port: app.getHttpServer().address().port, pid: process.pid })}\n`);
  return app;
}
