// Test helper: the FlowgateConfigError that building something throws (the test fails when it throws nothing else).

import { FlowgateConfigError } from '../../src/index.js';

/** Calls `make`, expects it to throw a {@link FlowgateConfigError}, and returns that error. */
export function configErrorOf(make: () => unknown): FlowgateConfigError {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FlowgateConfigError);
  return caught as FlowgateConfigError;
}
