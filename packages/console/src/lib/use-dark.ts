import { useSyncExternalStore } from 'react';

const query = () => window.matchMedia('(prefers-color-scheme: dark)');

/** Follows the system colour scheme (for widgets that take a theme object rather than CSS). */
export function useDark(): boolean {
  return useSyncExternalStore(
    (cb) => {
      const q = query();
      q.addEventListener('change', cb);
      return () => q.removeEventListener('change', cb);
    },
    () => query().matches,
  );
}
