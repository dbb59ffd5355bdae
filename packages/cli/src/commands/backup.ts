import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from '@commander-js/extra-typings';
import Type from 'typebox';
import { createLogger, loadConfig } from '@ocr/runtime';

// The S3 SDK and the database driver load when a backup command runs, not with every `ocr` start: the
// worker's cold start (bench/RESULTS.md) pays for every module the CLI imports up front.
const s3Sdk = () => import('@aws-sdk/client-s3');
const database = () => import('@ocr/db');

const BackupConfig = Type.Object({
  DATABASE_URL: Type.String({ minLength: 1, description: 'PostgreSQL URL' }),
  // Only for s3:// locations: the same variables as the API's artifact store (any bucket of that account).
  OCR_S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OCR_S3_REGION: Type.String({ default: 'us-east-1' }),
  OCR_S3_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  OCR_S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
});
type Config = ReturnType<typeof loadConfig<typeof BackupConfig>>;

/** `s3://bucket/key` (or `s3://bucket/prefix/`) → its parts; undefined for a local path. */
function s3Location(location: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
  return match ? { bucket: match[1]!, key: match[2]! } : undefined;
}

async function s3Client(config: Config): Promise<S3Client> {
  const { createS3Client } = await import('@ocr/runtime/s3');
  const client = createS3Client(config);
  if (!client) {
    throw new Error(
      'OCR_S3_ENDPOINT, OCR_S3_ACCESS_KEY_ID and OCR_S3_SECRET_ACCESS_KEY: required for an s3:// location',
    );
  }
  return client;
}

/** Write lines through gzip into a file, honouring back-pressure. */
async function writeGzip(
  path: string,
  produce: (write: (line: string) => Promise<void>) => Promise<void>,
): Promise<void> {
  const gzip = createGzip();
  const file = createWriteStream(path);
  gzip.pipe(file);
  const write = async (line: string) => {
    if (!gzip.write(`${line}\n`)) await once(gzip, 'drain');
  };
  await produce(write);
  gzip.end();
  await finished(file as Writable);
}

/** The newest key under a prefix (backup names sort by time). */
async function latestKey(client: S3Client, bucket: string, prefix: string): Promise<string> {
  const { ListObjectsV2Command } = await s3Sdk();
  let newest: string | undefined;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key && o.Key.endsWith('.ndjson.gz') && (!newest || o.Key > newest)) newest = o.Key;
    token = page.NextContinuationToken;
  } while (token);
  if (!newest) throw new Error(`no backup (*.ndjson.gz) under s3://${bucket}/${prefix}`);
  return newest;
}

/** `ocr backup create|restore`: logical backups (gzipped JSON lines) to and from a file or S3/Spaces. */
export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      'logical backups: "backup create --out FILE|s3://BUCKET/PREFIX/", "backup restore --from FILE|s3://BUCKET/KEY"',
    );
  backup
    .command('create')
    .description('write a consistent backup of DATABASE_URL (gzipped JSON lines)')
    .requiredOption(
      '--out <location>',
      'a file, s3://bucket/key, or s3://bucket/prefix/ (a timestamped name is added)',
    )
    .action(async ({ out }) => {
      const config = loadConfig(BackupConfig);
      const log = createLogger('backup');
      const s3 = s3Location(out);
      const dir = await mkdtemp(join(tmpdir(), 'ocr-backup-'));
      const { connect, exportDatabase } = await database();
      const { db, close } = connect(config.DATABASE_URL, { max: 1, applicationName: 'ocr-backup' });
      try {
        const file = s3 ? join(dir, 'backup.ndjson.gz') : out;
        let summary: Awaited<ReturnType<typeof exportDatabase>> | undefined;
        await writeGzip(file, async (write) => {
          summary = await exportDatabase(db, write);
        });
        let where = file;
        if (s3) {
          const key =
            s3.key === '' || s3.key.endsWith('/')
              ? `${s3.key}ocr-${summary!.header.created_at.replace(/[:.]/g, '-')}.ndjson.gz`
              : s3.key;
          const client = await s3Client(config);
          const { PutObjectCommand } = await s3Sdk();
          const { size } = await stat(file);
          await client.send(
            new PutObjectCommand({
              Bucket: s3.bucket,
              Key: key,
              Body: createReadStream(file),
              ContentLength: size,
              ContentType: 'application/gzip',
            }),
          );
          client.destroy();
          where = `s3://${s3.bucket}/${key}`;
        }
        log.info(
          { location: where, migrations: summary!.header.migrations.length, rows: summary!.rows },
          'backup written',
        );
        process.stdout.write(`${where}\n`);
      } finally {
        await close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  backup
    .command('restore')
    .description(
      "restore a backup into DATABASE_URL: an empty database that `ocr migrate` brought to the backup's migrations",
    )
    .requiredOption('--from <location>', 'a file, s3://bucket/key, or s3://bucket/prefix/ with --latest')
    .option('--latest', 'take the newest backup under the s3:// prefix')
    .action(async (options) => {
      const config = loadConfig(BackupConfig);
      const log = createLogger('backup');
      const s3 = s3Location(options.from);
      let source: Readable;
      let where = options.from;
      let client: S3Client | undefined;
      if (s3) {
        client = await s3Client(config);
        const { GetObjectCommand } = await s3Sdk();
        const key = options.latest ? await latestKey(client, s3.bucket, s3.key) : s3.key;
        where = `s3://${s3.bucket}/${key}`;
        source = (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body as Readable;
      } else {
        source = createReadStream(options.from);
      }
      const { connect, importDatabase } = await database();
      const { db, close } = connect(config.DATABASE_URL, { max: 1, applicationName: 'ocr-restore' });
      try {
        const lines = createInterface({ input: source.pipe(createGunzip()), crlfDelay: Infinity });
        const { header, rows } = await importDatabase(db, lines);
        log.info({ location: where, taken: header.created_at, rows }, 'backup restored');
      } finally {
        await close();
        client?.destroy();
      }
    });
}
