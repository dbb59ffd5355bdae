import { S3Client } from '@aws-sdk/client-s3';

/** The `OCR_S3_*` variables a process's config carries (the bucket is the caller's business). */
export interface S3Settings {
  OCR_S3_ENDPOINT?: string;
  OCR_S3_REGION: string;
  OCR_S3_FORCE_PATH_STYLE: boolean;
  OCR_S3_ACCESS_KEY_ID?: string;
  OCR_S3_SECRET_ACCESS_KEY?: string;
}

/**
 * The one way every process reaches S3-compatible storage; undefined when the endpoint or the keys are
 * not set. Checksums are computed only when required: the SDK's newer defaults add checksum headers that
 * several S3-compatible stores reject (and that corrupted streamed uploads in s3rver).
 */
export function createS3Client(settings: Readonly<S3Settings>): S3Client | undefined {
  const {
    OCR_S3_ENDPOINT: endpoint,
    OCR_S3_ACCESS_KEY_ID: accessKeyId,
    OCR_S3_SECRET_ACCESS_KEY: secretAccessKey,
  } = settings;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return new S3Client({
    endpoint,
    region: settings.OCR_S3_REGION,
    forcePathStyle: settings.OCR_S3_FORCE_PATH_STYLE,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
