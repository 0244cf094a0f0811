/**
 * Notices when plugin code changes the JavaScript built-ins or Node's globals of its process.
 *
 * In the runtime's own process such tampering (`Object.prototype.x = …`, a replaced `JSON.parse` or
 * `Promise.prototype.then`) would reach every other plugin and the runtime itself; in a plugin process it
 * can reach only the plugin and the small host that talks to the runtime. The host still refuses to go on
 * with a tampered process: it reports `PLUGIN_GLOBALS_TAMPERED` naming what changed, and the runtime
 * replaces the process. Freezing the built-ins instead (`--frozen-intrinsics`) would turn common, harmless
 * library code (`Error.stackTraceLimit = 50` in strict mode) into crashes.
 */

/** Properties that libraries change as a matter of course and that the host does not depend on. */
const MUTABLE = new Set([
  'Error.stackTraceLimit',
  'Error.prepareStackTrace',
  'globalThis.console',
  'globalThis.process',
  'globalThis.global',
]);

/** Objects whose own properties are not watched (their state changes by design), by path. */
const UNWATCHED_OBJECTS = new Set(['process', 'console', 'performance']);

/**
 * Node's fetch family, defined lazily: reading one loads undici (≈ 19 ms of every plugin process start),
 * and a first use replaces the getter. The host never uses them, so they are not watched at all.
 */
const LAZY_UNWATCHED = new Set(['fetch', 'FormData', 'Headers', 'Request', 'Response', 'WebSocket', 'EventSource']);

interface Entry {
  readonly path: string;
  readonly target: object;
  readonly key: PropertyKey;
  readonly value: unknown;
  readonly get: unknown;
  readonly set: unknown;
}

/** The built-ins as they were when {@link snapshotGlobals} ran. */
export interface GlobalsSnapshot {
  readonly entries: readonly Entry[];
  /** Objects watched, with their own keys and prototype at the time. */
  readonly objects: ReadonlyArray<{
    path: string;
    target: object;
    keys: ReadonlySet<PropertyKey>;
    proto: unknown;
    /** Whether some of its keys are not watched (a deleted one would hide an added one in a count). */
    partial: boolean;
  }>;
}

/**
 * Records every global and the own properties (and prototype) of every built-in constructor, its
 * prototype and the namespaces (`JSON`, `Math`, `Reflect`, …), plus the hidden intrinsics (the typed-array
 * base, iterator and generator prototypes). Lazily defined Node globals are read first, so that their
 * first use later does not look like a change.
 */
export function snapshotGlobals(): GlobalsSnapshot {
  for (const key of Reflect.ownKeys(globalThis)) {
    if (typeof key === 'string' && LAZY_UNWATCHED.has(key)) continue;
    try {
      void (globalThis as Record<PropertyKey, unknown>)[key];
    } catch {
      // a getter that throws is left as it is
    }
  }
  const objects: Array<{ path: string; target: object; keys: Set<PropertyKey>; proto: unknown; partial: boolean }> = [];
  const entries: Entry[] = [];
  const seen = new Set<object>();
  const watch = (path: string, target: unknown) => {
    if ((typeof target !== 'object' && typeof target !== 'function') || target === null || seen.has(target)) return;
    seen.add(target);
    if (UNWATCHED_OBJECTS.has(path)) return;
    const keys = Reflect.ownKeys(target);
    const partial = keys.some((key) => MUTABLE.has(`${path}.${String(key)}`));
    objects.push({ path, target, keys: new Set(keys), proto: Object.getPrototypeOf(target), partial });
    for (const key of keys) {
      const name = `${path}.${String(key)}`;
      if (MUTABLE.has(name) || (target === globalThis && typeof key === 'string' && LAZY_UNWATCHED.has(key))) continue;
      const d = Object.getOwnPropertyDescriptor(target, key)!;
      entries.push({ path: name, target, key, value: d.value, get: d.get, set: d.set });
    }
  };
  watch('globalThis', globalThis);
  for (const key of Reflect.ownKeys(globalThis)) {
    if (typeof key !== 'string' || MUTABLE.has(`globalThis.${key}`) || LAZY_UNWATCHED.has(key)) continue;
    const value = Object.getOwnPropertyDescriptor(globalThis, key)?.value as unknown;
    if (typeof value === 'function') {
      watch(key, value);
      watch(`${key}.prototype`, (value as { prototype?: unknown }).prototype);
    } else if (typeof value === 'object' && value !== null && /^[A-Z]/.test(key)) {
      watch(key, value); // JSON, Math, Reflect, Atomics, Intl, WebAssembly
    }
  }
  for (const [path, value] of hiddenIntrinsics()) watch(path, value);
  return { entries, objects };
}

function hiddenIntrinsics(): Array<[string, unknown]> {
  const typedArray = Object.getPrototypeOf(Uint8Array) as object;
  const arrayIterator = Object.getPrototypeOf([][Symbol.iterator]()) as object;
  const generator = Object.getPrototypeOf(function* () {}) as object;
  const asyncGenerator = Object.getPrototypeOf(async function* () {}) as object;
  const asyncFunction = Object.getPrototypeOf(async () => {}) as object;
  return [
    ['%TypedArray%', typedArray],
    ['%TypedArray%.prototype', (typedArray as { prototype: object }).prototype],
    ['%ArrayIteratorPrototype%', arrayIterator],
    ['%IteratorPrototype%', Object.getPrototypeOf(arrayIterator)],
    ['%MapIteratorPrototype%', Object.getPrototypeOf(new Map()[Symbol.iterator]())],
    ['%SetIteratorPrototype%', Object.getPrototypeOf(new Set()[Symbol.iterator]())],
    ['%StringIteratorPrototype%', Object.getPrototypeOf(''[Symbol.iterator]())],
    ['%GeneratorFunction.prototype%', generator],
    ['%GeneratorPrototype%', (generator as { prototype: object }).prototype],
    ['%AsyncGeneratorFunction.prototype%', asyncGenerator],
    ['%AsyncGeneratorPrototype%', (asyncGenerator as { prototype: object }).prototype],
    ['%AsyncFunction.prototype%', asyncFunction],
  ];
}

/**
 * What changed since the snapshot: replaced, deleted or redefined properties, properties added to a
 * built-in, and changed prototypes. Globals a plugin merely adds to `globalThis` (its own variables) are
 * not changes: they cannot alter what the host's code does.
 */
export function changedGlobals(snapshot: GlobalsSnapshot): string[] {
  const changes: string[] = [];
  for (const e of snapshot.entries) {
    const d = Object.getOwnPropertyDescriptor(e.target, e.key);
    if (!d) changes.push(`${e.path} (deleted)`);
    else if (!Object.is(d.value, e.value) || d.get !== e.get || d.set !== e.set) changes.push(`${e.path} (replaced)`);
  }
  for (const o of snapshot.objects) {
    if (Object.getPrototypeOf(o.target) !== o.proto) changes.push(`${o.path} (prototype replaced)`);
    if (o.target === globalThis) continue;
    const keys = Reflect.ownKeys(o.target);
    // Deletions of watched keys are found above; so, where every key is watched, the same count means
    // nothing was added.
    if (keys.length === o.keys.size && !o.partial) continue;
    for (const key of keys) if (!o.keys.has(key)) changes.push(`${o.path}.${String(key)} (added)`);
  }
  return changes;
}
