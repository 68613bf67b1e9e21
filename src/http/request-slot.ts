// Attaches a value to request objects under a property name through an accessor on their prototype.

/** A request of Express (also under Nest): `req.res.locals` is a dictionary object Express makes per request. */
interface WithLocals {
  readonly res?: { readonly locals?: unknown };
}

/** The per-request dictionary a value can live in: Express's `res.locals` (null-prototype), if any. */
export function localsOf(req: object): Record<symbol, unknown> | undefined {
  const locals = (req as WithLocals).res?.locals;
  return typeof locals === 'object' && locals !== null ? (locals as Record<symbol, unknown>) : undefined;
}

/**
 * Returns a function that makes `req[name]` read `value` for that request. Instead of a property
 * written on every request (which on Express's request objects, whose prototype is swapped per
 * request, costs several per cent of a hello-world app's throughput), the value goes into the
 * request's `res.locals` under a private symbol (Express makes that dictionary object for every
 * request: adding a key to it changes no hidden class and hashes no object), or else into a WeakMap,
 * and an accessor on the request's prototype (Express's `app.request`, Fastify's request class, both
 * made for extension) reads it. Writing `req[name]` afterwards still works (the accessor's setter
 * keeps it). When the prototype already owns `name` (something else put it there), the value is
 * written on the request itself, as a plain property.
 */
export function requestSlot<V>(name: string): (req: object, value: V) => void {
  const slot = Symbol(`flowgate.${name}`);
  const values = new WeakMap<object, V>();
  const put = (req: object, value: V): void => {
    const locals = localsOf(req);
    if (locals !== undefined) locals[slot] = value;
    else values.set(req, value);
  };
  /** Prototypes seen, and whether the accessor on each is this slot's. */
  const accessorOn = new WeakMap<object, boolean>();
  const install = (proto: object): boolean => {
    if (Object.prototype.hasOwnProperty.call(proto, name)) return false;
    Object.defineProperty(proto, name, {
      configurable: true,
      enumerable: false,
      get(this: object): V | undefined {
        const locals = localsOf(this);
        return locals !== undefined && slot in locals ? (locals[slot] as V) : values.get(this);
      },
      set(this: object, value: V) {
        put(this, value);
      },
    });
    return true;
  };
  let lastProto: object | null | undefined;
  let lastOurs = false;
  return (req, value) => {
    const proto = Object.getPrototypeOf(req) as object | null;
    // Express swaps in the same app prototype for every request: remember the last answer.
    if (proto !== lastProto) {
      let ours = proto === null ? false : accessorOn.get(proto);
      if (ours === undefined && proto !== null) {
        ours = install(proto);
        accessorOn.set(proto, ours);
      }
      lastProto = proto;
      lastOurs = ours === true;
    }
    // With the accessor in place, an assignment to req[name] lands in the slot too: no own property to look for.
    if (lastOurs) put(req, value);
    else (req as Record<string, unknown>)[name] = value;
  };
}
