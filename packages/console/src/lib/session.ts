import { createClient, type OcrClient } from '@ocr/client';

const KEY = 'ocr.token';

/** The API token lives for the browser session only (sessionStorage): closing the tab signs out. */
export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  save: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

/** The console is served by the API, so the API is this page's origin. */
export const apiBase = (): string => window.location.origin;

export function clientFor(token: string): OcrClient {
  return createClient({ baseUrl: apiBase(), token });
}
