// Preloaded into a server by profile.mjs (`node --import`): SIGUSR2 starts the V8 CPU profiler (after the warm-up),
// SIGTERM stops it, writes the profile to BENCH_PROFILE_FILE and exits, so start-up and warm-up stay out of it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 250) });
process.on('SIGUSR2', () => {
  session.post('Profiler.start').then(() => process.stderr.write('profile-hook: profiling\n'));
});
process.once('SIGTERM', async () => {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.env.BENCH_PROFILE_FILE, JSON.stringify(profile));
  process.exit(0);
});
