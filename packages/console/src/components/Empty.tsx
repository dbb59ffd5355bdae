import type { ReactNode } from 'react';

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** An API error as a readable line. */
export function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as { code?: string; message?: string };
  return (
    <div className="error-line" role="alert">
      {e.code ? <code>{e.code}</code> : null} {e.message ?? String(error)}
    </div>
  );
}
