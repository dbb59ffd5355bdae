import t from 'tap';
import { loadWorkerConfig } from '../src/config.js';

const base = { OCR_API_URL: 'http://127.0.0.1:8080', OCR_TOKEN: 'tok' };

t.test('OCR_LANES follows the API rule for lane names, one clear line per problem', async (t) => {
  t.same(loadWorkerConfig({ ...base, OCR_LANES: 'A,build.linux,x_1' }).lanes, ['A', 'build.linux', 'x_1']);
  t.throws(() => loadWorkerConfig({ ...base, OCR_LANES: '_x' }), /OCR_LANES: "_x" is not a lane name/);
  t.throws(() => loadWorkerConfig({ ...base, OCR_LANES: 'A,,B' }), /OCR_LANES: "" is not a lane name/);
  t.throws(
    () => loadWorkerConfig({ ...base, OCR_LANES: 'a'.repeat(64) }),
    /is not a lane name/,
    'longer than the API allows',
  );
});

t.test('missing variables are named', async (t) => {
  t.throws(() => loadWorkerConfig({}), /OCR_API_URL[\s\S]*OCR_TOKEN|OCR_TOKEN[\s\S]*OCR_API_URL/);
});

t.test('job mode: off by default, validated like every other variable', async (t) => {
  const config = loadWorkerConfig(base);
  t.equal(config.OCR_MAX_RUNS, 0, 'no run limit');
  t.equal(config.OCR_EXIT_WHEN_IDLE_S, 0, 'never exits when idle');
  t.equal(
    loadWorkerConfig({ ...base, OCR_MAX_RUNS: '1', OCR_EXIT_WHEN_IDLE_S: '2.5' }).OCR_EXIT_WHEN_IDLE_S,
    2.5,
  );
  t.throws(() => loadWorkerConfig({ ...base, OCR_MAX_RUNS: '-1' }), /OCR_MAX_RUNS/);
  t.throws(() => loadWorkerConfig({ ...base, OCR_EXIT_WHEN_IDLE_S: 'x' }), /OCR_EXIT_WHEN_IDLE_S/);
  t.throws(() => loadWorkerConfig({ ...base, OCR_EXIT_WHEN_IDLE_S: '86401' }), /OCR_EXIT_WHEN_IDLE_S/);
});
