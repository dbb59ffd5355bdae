import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { session } from './lib/session.js';
import { App } from './app.js';
import { ToastProvider } from './components/Toasts.js';
import './styles.css';

const queryClient = new QueryClient({
  // A token revoked mid-session: back to the sign-in screen rather than a page of errors.
  queryCache: new QueryCache({
    onError: (err) => {
      if ((err as { status?: number }).status === 401 && session.token()) {
        session.clear();
        window.location.reload();
      }
    },
  }),
  defaultOptions: {
    // Live views are pushed over the WebSocket; polling is only a fallback.
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: false,
      retry: (n, err) => n < 2 && !(err as { status?: number }).status,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <App />
      </ToastProvider>
    </QueryClientProvider>
  </StrictMode>,
);
