/**
 * A child logger that costs nothing until it writes. `pino.child` copies and redacts its bindings at once;
 * a worker made three per run (worker, run, step) and wrote with none of them when all went well. A lazy
 * child answers a disabled level with a no-op, and makes the real child (same bindings, same options, so
 * the same lines) the first time a line is written at an enabled level or anything else is asked of it.
 */
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
/** Answered by the parent while the child is not made: a child has its parent's level (none is set here). */
const FROM_PARENT = new Set(['level', 'levelVal', 'isLevelEnabled']);
const quiet = (): void => undefined;
/** Asked of a lazy child, answers the function that makes (or returns) its real logger. */
const MAKE = Symbol('lazyChild.make');

/** `parent.child(bindings, options)`, made only when first needed (see above). */
export function lazyChild(parent: Logger, bindings: Bindings, options?: ChildLoggerOptions): Logger {
  // A child with its own level answers level questions itself: made at once.
  if (options?.level !== undefined) return parent.child(bindings, options);
  let child: Logger | undefined;
  // The real child of the real parent: a lazy parent is made too, then (a step's line needs its run's).
  const made = (): Logger =>
    (child ??= ((parent as { [MAKE]?: () => Logger })[MAKE]?.() ?? parent).child(bindings, options));
  const proxy: Logger = new Proxy(parent, {
    get(_target, prop) {
      if (prop === MAKE) return made;
      // Children of a lazy child stay lazy: a step's logger does not make its run's.
      if (prop === 'child')
        return (more: Bindings, moreOptions?: ChildLoggerOptions) => lazyChild(proxy, more, moreOptions);
      if (child === undefined && typeof prop === 'string') {
        if (LEVELS.has(prop) && !parent.isLevelEnabled(prop)) return quiet;
        if (FROM_PARENT.has(prop)) return bound(parent, prop);
      }
      return bound(made(), prop);
    },
    set(_target, prop, value) {
      return Reflect.set(made(), prop, value);
    },
  }) as Logger;
  return proxy;
}

function bound(target: Logger, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
