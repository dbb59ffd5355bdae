import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { OcrClient } from '@ocr/client';
import { clientFor, session } from './lib/session.js';
import { ConnectionProvider, useConnection } from './lib/realtime.js';
import { href, useRoute } from './lib/router.js';
import type { WhoAmIT } from './lib/types.js';
import { SignIn } from './pages/SignIn.js';
import { Runboard } from './pages/Runboard.js';
import { RunsPage } from './pages/RunsPage.js';
import { RunPage } from './pages/RunPage.js';
import { TemplatesPage } from './features/templates/TemplatesPage.js';
import { WorkersPage } from './pages/WorkersPage.js';
import { ArtifactsPage } from './pages/ArtifactsPage.js';
// The form library (rjsf + Ajv) and the viewers load when first needed: the runboard paints sooner.
const TemplateEditor = lazy(() =>
  import('./features/templates/TemplateEditor.js').then((m) => ({ default: m.TemplateEditor })),
);
const RunForm = lazy(() => import('./features/templates/RunForm.js').then((m) => ({ default: m.RunForm })));
const ComparePage = lazy(() =>
  import('./features/compare/ComparePage.js').then((m) => ({ default: m.ComparePage })),
);
const SpecKitPanel = lazy(() => import('./pages/SpecKitPanel.js').then((m) => ({ default: m.SpecKitPanel })));
import { ConnectionBadge } from './components/ConnectionBadge.js';
import { PendingActions } from './components/PendingActions.js';

interface Signed {
  token: string;
  client: OcrClient;
  me: WhoAmIT;
}

/** Why the saved token could not be checked yet, while the check is retried. */
interface Unreachable {
  attempt: number;
  message: string;
}

/** 401: the token is unknown or revoked; 403: it may not use the console. Nothing else says the token is bad. */
const refusesToken = (err: unknown) => {
  const status = (err as { status?: number }).status;
  return status === 401 || status === 403;
};

const RECHECK_MAX_MS = 15_000;

/**
 * Signs in with the token kept for this browser session, then shows the console. The token is forgotten
 * only when the API refuses it: an API that cannot be reached (offline, restarting, a proxy's 502) is
 * retried, with backoff and whenever the browser comes back online, and said so, rather than signing the
 * operator out over a network blip.
 */
export function App() {
  const qc = useQueryClient();
  const [signed, setSigned] = useState<Signed | null>(null);
  const [checking, setChecking] = useState(() => session.token() !== null);
  const [unreachable, setUnreachable] = useState<Unreachable | null>(null);
  const recheck = useRef<() => void>(() => undefined);

  useEffect(() => {
    const token = session.token();
    if (!token) return;
    const client = clientFor(token);
    let stopped = false;
    let inFlight = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      if (stopped || inFlight) return;
      clearTimeout(timer);
      inFlight = true;
      client.whoami().then(
        (me) => {
          inFlight = false;
          if (stopped) return;
          setSigned({ token, client, me });
          setUnreachable(null);
          setChecking(false);
        },
        (err: unknown) => {
          inFlight = false;
          if (stopped) return;
          if (refusesToken(err)) {
            session.clear();
            setUnreachable(null);
            setChecking(false);
            return;
          }
          attempt++;
          setUnreachable({ attempt, message: (err as Error).message || String(err) });
          timer = setTimeout(check, Math.min(1000 * 2 ** (attempt - 1), RECHECK_MAX_MS));
        },
      );
    };
    recheck.current = check;
    window.addEventListener('online', check);
    check();
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('online', check);
    };
  }, []);

  if (checking && unreachable)
    return (
      <div className="splash">
        <div className="unreachable" role="alert">
          <p>
            <strong>Cannot reach the control room, retrying…</strong>
          </p>
          <p className="muted small">
            Attempt {unreachable.attempt}: {unreachable.message}. You stay signed in; the console opens as
            soon as the API answers.
          </p>
          <div className="row-gap">
            <button type="button" className="btn-primary" onClick={() => recheck.current()}>
              Retry now
            </button>
            <button
              type="button"
              className="btn-ghost"
              onClick={() => {
                session.clear();
                window.location.reload();
              }}
            >
              Sign out
            </button>
          </div>
        </div>
      </div>
    );
  if (checking) return <div className="splash">Connecting…</div>;
  if (!signed) return <SignIn onSignedIn={(s) => setSigned(s)} />;
  const signOut = () => {
    session.clear();
    qc.clear();
    setSigned(null);
  };
  return (
    <ConnectionProvider client={signed.client} token={signed.token} me={signed.me} onSignOut={signOut}>
      <Shell />
    </ConnectionProvider>
  );
}

const NAV = [
  ['runboard', 'Runboard'],
  ['runs', 'Runs'],
  ['artifacts', 'Artifacts'],
  ['templates', 'Templates'],
  ['workers', 'Workers'],
  ['spec-kit', 'Spec Kit'],
] as const;

function Shell() {
  const { me, signOut } = useConnection();
  const route = useRoute();
  const section = route.path[0] ?? 'runboard';
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={href('runboard')}>
          <span className="logo" aria-hidden="true" />
          Ops Control Room
        </a>
        <nav aria-label="Sections">
          {NAV.map(([id, label]) => (
            <a key={id} href={href(id)} aria-current={section === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <ConnectionBadge />
          <span className="who" title={`token ${me.token_id}`}>
            {me.name} <span className={`role role-${me.role}`}>{me.role}</span>
          </span>
          <button type="button" className="btn-ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <PendingActions />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<div className="empty">Loading…</div>}>
          <Page path={route.path} query={route.query} />
        </Suspense>
      </main>
    </div>
  );
}

function Page({ path, query }: { path: string[]; query: URLSearchParams }) {
  const [section, id, sub, subId] = path;
  switch (section) {
    case undefined:
    case 'runboard':
      return <Runboard />;
    case 'runs':
      return id ? (
        <RunPage key={id} id={id} tab={sub ?? 'logs'} artifactId={sub === 'artifacts' ? subId : undefined} />
      ) : (
        <RunsPage query={query} />
      );
    case 'templates':
      if (id === 'new') return <TemplateEditor />;
      if (id && sub === 'edit') return <TemplateEditor name={id} key={id} />;
      if (id && sub === 'run') return <RunForm name={id} key={id} />;
      return <TemplatesPage />;
    case 'compare':
      return (
        <ComparePage a={query.get('a')} b={query.get('b')} key={`${query.get('a')}:${query.get('b')}`} />
      );
    case 'artifacts':
      return <ArtifactsPage query={query} />;
    case 'workers':
      return <WorkersPage />;
    case 'spec-kit':
      return <SpecKitPanel />;
    default:
      return (
        <div className="empty">
          No page here. <a href={href('runboard')}>Back to the runboard</a>
        </div>
      );
  }
}
