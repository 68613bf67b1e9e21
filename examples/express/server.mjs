// Runs the Express example on 127.0.0.1: 5 requests/s, burst 5, up to 10 waiting for 2 s.

import { createApp } from './app.mjs';

const port = Number(process.env.PORT ?? 3000);
const { app } = createApp({ rate: 5, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' } });
app.listen(port, '127.0.0.1', () => {
  console.log(`flowgate Express example on http://127.0.0.1:${port}/ (5 req/s, burst 5, queue 10 x 2 s)`);
});
