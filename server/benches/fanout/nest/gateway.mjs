// The seed's stack for the fan-out benchmark (server/benches/fanout.rs): a
// NestJS application whose WebSocket gateway runs on @nestjs/platform-ws
// (WsAdapter, the `ws` package), written in plain JavaScript so it needs no
// compile step: the decorators TypeScript would apply are applied with
// `Reflect.decorate`, exactly as its compiled output does.
//
// Watchers connect to `/` and get a `{"type":"hello"}` frame first (the
// benchmark's clients wait for a first frame before the ramp starts). The
// benchmark connects once more to `/?publisher=1` and sends each batch of
// events as one Nest message, `{"event":"payments","data":[PaymentEvent…]}`;
// the gateway serializes each event once and sends that text to every
// watcher, the way a NestJS gateway broadcasts (`server.clients`).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WebSocketGateway, WebSocketServer, SubscribeMessage } from '@nestjs/websockets';
import { WsAdapter } from '@nestjs/platform-ws';
import WebSocket from 'ws';

class PaymentsGateway {
  constructor() {
    this.watchers = new Set();
  }

  handleConnection(client, request) {
    if (new URL(request.url, 'http://localhost').searchParams.has('publisher')) {
      return;
    }
    this.watchers.add(client);
    client.send('{"type":"hello"}');
  }

  handleDisconnect(client) {
    this.watchers.delete(client);
  }

  payments(_publisher, events) {
    for (const event of events) {
      const text = JSON.stringify(event);
      for (const watcher of this.watchers) {
        if (watcher.readyState === WebSocket.OPEN) {
          watcher.send(text);
        }
      }
    }
  }
}
Reflect.decorate([WebSocketServer()], PaymentsGateway.prototype, 'server', undefined);
Reflect.decorate(
  [SubscribeMessage('payments')],
  PaymentsGateway.prototype,
  'payments',
  Object.getOwnPropertyDescriptor(PaymentsGateway.prototype, 'payments'),
);
const Gateway = Reflect.decorate([WebSocketGateway()], PaymentsGateway);

class AppModule {}
const App = Reflect.decorate([Module({ providers: [Gateway] })], AppModule);

const app = await NestFactory.create(App, { logger: ['error', 'warn'] });
app.useWebSocketAdapter(new WsAdapter(app));
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
// The benchmark reads the port from this line.
console.log(`listening ${app.getHttpServer().address().port}`);
