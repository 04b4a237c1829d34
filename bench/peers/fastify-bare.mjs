// The baseline every throughput is divided by: Fastify answering a small JSON.
import Fastify from 'fastify';
import { HOST, port, ready, onFatal } from './_common.mjs';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
app.listen({ port: port(), host: HOST }).then(() => ready({ path: '/', headers: {} }), onFatal);
