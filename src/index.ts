// The flowgate core: limiter, token-bucket math, stores, and the framework-free HTTP helpers.

export { createLimiter, Limiter, type KeyState, type TakeOptions } from './limiter.js';
export type { LimiterOptions, QueueOptions } from './limiter-options.js';
export type { LimiterEvents, LimiterEventName } from './limiter-events.js';
export type { Decision, RejectReason } from './decision.js';
export type { Store, StoreTakeResult } from './store.js';
export type { QueueLimits, QueueStats } from './take-queue.js';
export type { BucketPolicy } from './policy.js';
export type { PolicyUpdate, PublishedPolicy, QueueBounds, VersionedPolicy } from './policy-update.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { FlowgateError, FlowgateConfigError, FlowgateArgumentError, type FlowgateErrorCode } from './errors.js';
export { parseDuration, type Duration } from './duration.js';
export { monotonicClock, type Clock } from './clock.js';
export * as tokenBucket from './token-bucket.js';
export { ipKey } from './http/ip-key.js';
export { rateLimitHeaders, retryAfterSeconds, policyWindowSeconds, type HeaderFormat } from './http/rate-limit-headers.js';
export { problemDetails, QUOTA_EXCEEDED, TEMPORARY_REDUCED_CAPACITY, type ProblemDetails } from './http/problem-details.js';
export type { HttpRateLimitOptions, MaybePromise } from './http/http-options.js';
export { ZooKeeperStore, type ZooKeeperStoreEvents, type ZooKeeperStoreStats } from './stores/zookeeper/zookeeper-store.js';
export type { ZooKeeperStoreOptions, UnavailablePolicy } from './stores/zookeeper/zookeeper-store-options.js';
export { ZooKeeperUnavailableError } from './stores/zookeeper/zookeeper-session.js';
export {
  DistributedQueue,
  type DistributedQueueOptions,
  type DequeueOptions,
  type EnqueueOptions,
  type DeliveryInfo,
  type QueueConsumer,
  type StopOptions,
  type ConsumeOptions,
  type DeadLetter,
} from './stores/zookeeper/distributed-queue.js';
export type { RetryDelay } from './stores/zookeeper/retry-delay.js';
export {
  ConcurrencyLimiter,
  createConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  type ConcurrencyEvents,
  type ConcurrencyEventName,
  type Permit,
  type PermitDecision,
} from './concurrency/concurrency-limiter.js';
export type { ConcurrencyPolicy, PermitResult, PermitStore } from './concurrency/permit-store.js';
export { MemoryPermitStore } from './concurrency/memory-permit-store.js';
export { ZooKeeperPermitStore, type ZooKeeperPermitStoreOptions } from './stores/zookeeper/zookeeper-permit-store.js';
