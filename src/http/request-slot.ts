// Attaches a value to request objects under a property name through an accessor on their prototype.

/**
 * Returns a function that makes `req[name]` read `value` for that request. Instead of a property
 * written on every request (which on Express's request objects, whose prototype is swapped per
 * request, costs several per cent of a hello-world app's throughput), the value goes into a WeakMap
 * and an accessor on the request's prototype (Express's `app.request`, Fastify's request class,
 * both made for extension) reads it. Writing `req[name]` afterwards still works (the accessor's
 * setter keeps it). When the prototype already owns `name` (something else put it there), the value
 * is written on the request itself, as a plain property.
 */
export function requestSlot<V>(name: string): (req: object, value: V) => void {
  const values = new WeakMap<object, V>();
  /** Prototypes seen, and whether the accessor on each is this slot's. */
  const accessorOn = new WeakMap<object, boolean>();
  const install = (proto: object): boolean => {
    if (Object.prototype.hasOwnProperty.call(proto, name)) return false;
    Object.defineProperty(proto, name, {
      configurable: true,
      enumerable: false,
      get(this: object): V | undefined {
        return values.get(this);
      },
      set(this: object, value: V) {
        values.set(this, value);
      },
    });
    return true;
  };
  return (req, value) => {
    const proto = Object.getPrototypeOf(req) as object | null;
    let ours = proto === null ? false : accessorOn.get(proto);
    if (ours === undefined && proto !== null) {
      ours = install(proto);
      accessorOn.set(proto, ours);
    }
    // With the accessor in place, an assignment to req[name] lands in `values` too: no own property to look for.
    if (ours === true) values.set(req, value);
    else (req as Record<string, unknown>)[name] = value;
  };
}
