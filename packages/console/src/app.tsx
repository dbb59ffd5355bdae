import { lazy, Suspense, useEffect, useState } from 'react';
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

/** Signs in with the token kept for this browser session, then shows the console. */
export function App() {
  const qc = useQueryClient();
  const [signed, setSigned] = useState<Signed | null>(null);
  const [checking, setChecking] = useState(() => session.token() !== null);

  useEffect(() => {
    const token = session.token();
    if (!token) return;
    const client = clientFor(token);
    client
      .whoami()
      .then(
        (me) => setSigned({ token, client, me }),
        () => session.clear(),
      )
      .finally(() => setChecking(false));
  }, []);

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
