import { readFile } from 'node:fs/promises';
import t from 'tap';
import { CLIENT_TYPES_PATH, generateClientTypes } from '../../scripts/generate-client-types.js';

// The SDK's types are generated from the OpenAPI document; a contract change that did not regenerate them
// would ship a client that disagrees with the API.
t.test('the SDK types are generated from the current OpenAPI document', async (t) => {
  const committed = await readFile(CLIENT_TYPES_PATH, 'utf8');
  t.ok(
    committed === (await generateClientTypes()),
    'packages/client/src/generated/api.ts is current (run: npm run generate -w @ocr/client)',
  );
});
