// The console's shell: who is signed in, the navigation, and which page the path names.
// Paths live under /console (the admin serves index.html for every one of them).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { currentSession, logOut, onSessionChange, resumeSession, type Session } from './api/http.ts';
import { base, Link, loadSettings, navigate, onNavigate } from './ui.tsx';
import { LoginPage } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { ClientsPage } from './pages/clients.tsx';
import { ClientPage } from './pages/client.tsx';
import { PayoutBatchesPage } from './pages/payout-batches.tsx';
import { PayoutBatchPage } from './pages/payout-batch.tsx';
import { ConversionsPage } from './pages/conversions.tsx';
import { OperationsPage } from './pages/operations.tsx';

const sections = [
  { href: `${base}/`, label: 'Overview' },
  { href: `${base}/clients`, label: 'Clients' },
  { href: `${base}/payout-batches`, label: 'Payout batches' },
  { href: `${base}/conversions`, label: 'Conversions' },
  { href: `${base}/operations`, label: 'Operations' },
];

function pageFor(path: string) {
  const rest = path.startsWith(base) ? path.slice(base.length) : path;
  const client = /^\/clients\/([^/]+)$/.exec(rest);
  if (client?.[1] !== undefined) return { title: `Client ${decodeURIComponent(client[1])}`, page: <ClientPage clientId={decodeURIComponent(client[1])} /> };
  const batch = /^\/payout-batches\/([^/]+)$/.exec(rest);
  if (batch?.[1] !== undefined) return { title: `Payout batch`, page: <PayoutBatchPage batchId={decodeURIComponent(batch[1])} /> };
  switch (rest) {
    case '/clients':
      return { title: 'Clients', page: <ClientsPage /> };
    case '/payout-batches':
      return { title: 'Payout batches', page: <PayoutBatchesPage /> };
    case '/conversions':
      return { title: 'Conversions', page: <ConversionsPage /> };
    case '/operations':
      return { title: 'Operations', page: <OperationsPage /> };
    default:
      return { title: 'Overview', page: <OverviewPage /> };
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    onNavigate(() => setPath(location.pathname));
    const onPop = (): void => setPath(location.pathname);
    addEventListener('popstate', onPop);
    const unsubscribe = onSessionChange(setSession);
    void loadSettings().then(() => resumeSession());
    return () => {
      removeEventListener('popstate', onPop);
      unsubscribe();
    };
  }, []);

  if (session === undefined) return <p aria-busy="true">Loading…</p>;
  if (session === null) {
    document.title = 'Sign in · payout-pipeline console';
    return (
      <main id="main">
        <LoginPage />
      </main>
    );
  }
  const { title, page } = pageFor(path);
  document.title = `${title} · payout-pipeline console`;
  return (
    <>
      <header>
        <nav aria-label="Sections">
          <strong>payout-pipeline</strong>
          {sections.map((section) => (
            <Link key={section.href} href={section.href} class={path === section.href || (section.href !== `${base}/` && path.startsWith(section.href)) ? 'current' : ''}>
              {section.label}
            </Link>
          ))}
        </nav>
        <p class="who">
          {currentSession()?.actor} ({currentSession()?.role}){' '}
          <button type="button" onClick={() => void logOut().then(() => navigate(`${base}/`))}>
            Sign out
          </button>
        </p>
      </header>
      <main id="main">
        <h1>{title}</h1>
        {page}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
