// Marks flowgate's classes so that an object made by the package's CommonJS copy is recognised by its ESM copy, and back.

/** The flowgate classes that options and stores are checked against. */
export type BrandName = 'ZooKeeperStore' | 'MemoryStore' | 'Limiter' | 'ConcurrencyLimiter';

/**
 * The version of the brands: raised whenever what one copy's objects expect of another's changes,
 * so that the CommonJS and ESM copies of one release accept each other's objects, and two releases
 * whose internals differ do not.
 */
const BRAND_VERSION = 1;

/** The process-wide symbol (shared by every copy of the package) that instances of `name` carry. */
function brandSymbol(name: BrandName): symbol {
  return Symbol.for(`flowgate.${BRAND_VERSION}.${name}`);
}

/** Marks the instances of `ctor` as flowgate `name`s. */
export function brand(ctor: { prototype: object }, name: BrandName): void {
  Object.defineProperty(ctor.prototype, brandSymbol(name), { value: true });
}

/**
 * Whether `value` is an instance of flowgate's `name` class, made by this copy of the package or by
 * another one (an app that both `require`s and `import`s flowgate loads two copies, whose classes
 * differ, so `instanceof` would say no).
 */
export function hasBrand<T>(value: unknown, name: BrandName): value is T {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brandSymbol(name)] === true;
}
