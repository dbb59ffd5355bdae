/**
 * The restore drill's commands, word for word as docs/deployment.md ("Backups and restore") and the backup
 * CronJob give them. tests/restore-drill.integration.test.ts runs them; tests/infra/docs-commands.test.ts
 * checks that the docs say nothing else.
 */
export const BACKUP_BUCKET = 'ocr-backups';
/** `node packages/cli/bin/ocr.js` + these words: back up, then (on the new cluster) migrate and restore. */
export const DRILL = {
  backup: ['backup', 'create', '--out', `s3://${BACKUP_BUCKET}/daily/`],
  migrate: ['migrate'],
  restore: ['backup', 'restore', '--from', `s3://${BACKUP_BUCKET}/daily/`, '--latest'],
} as const;
