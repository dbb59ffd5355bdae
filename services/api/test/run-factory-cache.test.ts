// Regression test (issue 16): the run factory's per-template-version caches grew without bound (one
// compiled validator and one placements record per version ever used). They are LRU-bounded now.
import t from 'tap';
import type { TemplateRow } from '@ocr/db';
import {
  paramsValidator,
  placements,
  runFactoryCacheSizes,
  TEMPLATE_VERSIONS_CACHED,
} from '../src/run-factory.js';

const version = (n: number): TemplateRow =>
  ({
    name: 'many',
    version: n,
    definition: {
      params_schema: { type: 'object', properties: { n: { type: 'integer', maximum: n } } },
      steps: [{ name: 's', kind: 'shell', script: 'true' }],
    },
  }) as unknown as TemplateRow;

t.test(
  'validators of template versions: at most TEMPLATE_VERSIONS_CACHED kept, least recently used evicted',
  async (t) => {
    const hot = version(0);
    const hotValidator = paramsValidator(hot);
    for (let n = 1; n <= TEMPLATE_VERSIONS_CACHED * 3; n++) {
      const validate = paramsValidator(version(n));
      t.equal(validate({ n }), true);
      if (n % 100 === 0)
        t.equal(paramsValidator(hot), hotValidator, `version 0 still cached after ${n} others`);
    }
    t.equal(runFactoryCacheSizes().validators, TEMPLATE_VERSIONS_CACHED, 'bounded');
    // An evicted version is compiled again, and still validates by its own schema.
    const again = paramsValidator(version(1));
    t.equal(again({ n: 1 }), true);
    t.equal(again({ n: 2 }), false, 'maximum 1');
  },
);

t.test('param placements: bounded the same way', async (t) => {
  const hot = { ...version(0), name: 'hot' } as TemplateRow;
  const hotSet = placements(hot);
  for (let n = 1; n <= TEMPLATE_VERSIONS_CACHED * 2; n++) {
    placements(version(n));
    if (n % 100 === 0) t.equal(placements(hot), hotSet, `hot version still cached after ${n} others`);
  }
  t.equal(runFactoryCacheSizes().placements, TEMPLATE_VERSIONS_CACHED, 'bounded');
});
