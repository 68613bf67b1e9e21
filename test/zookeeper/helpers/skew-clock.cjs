// A `--require` preload that skews this process's wall clock by FLOWGATE_TEST_SKEW_MS milliseconds:
// Date.now(), `new Date()` and `Date()` all read the skewed time (a host whose clock is off).
// Monotonic clocks (performance.now, process.hrtime) are left alone, as they are on a real host.
'use strict';

const skew = Number(process.env.FLOWGATE_TEST_SKEW_MS || 0);
const RealDate = Date;
const skewedNow = () => RealDate.now() + skew;

globalThis.Date = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    return args.length === 0 ? Reflect.construct(target, [skewedNow()], newTarget) : Reflect.construct(target, args, newTarget);
  },
  apply() {
    return new RealDate(skewedNow()).toString();
  },
  get(target, property, receiver) {
    if (property === 'now') return skewedNow;
    return Reflect.get(target, property, receiver);
  },
});
