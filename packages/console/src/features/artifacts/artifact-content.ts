import type { OcrClient } from '@ocr/client';
import { saveBlob } from '../../lib/download.js';
import type { ArtifactT } from '../../lib/types.js';

/**
 * Where an artifact's bytes are: inline artifacts come from the API (with the token, as a Blob); objects in
 * storage come from a short-lived presigned URL, which <img> and downloads use directly.
 */
export interface ArtifactSource {
  artifact: ArtifactT;
  /** The API path (inline) or a presigned absolute URL. */
  url: string | null;
  inline: boolean;
}

export async function artifactSource(client: OcrClient, id: string): Promise<ArtifactSource> {
  const { artifact, download_url } = await client.artifacts.get(id);
  return { artifact, url: download_url, inline: !!download_url && download_url.startsWith('/') };
}

/** The artifact's bytes. A presigned URL on another origin needs CORS on the bucket to be read by script. */
export async function artifactBlob(client: OcrClient, source: ArtifactSource): Promise<Blob> {
  if (source.inline) return (await client.artifacts.content(source.artifact.id)).blob();
  if (!source.url) throw new Error('the artifact has no content yet');
  let res: Response;
  try {
    res = await fetch(source.url);
  } catch {
    throw new Error(
      'object storage refused a cross-origin read (configure CORS on the bucket to preview here); use Download',
    );
  }
  if (!res.ok) throw new Error(`object storage answered ${res.status}`);
  return res.blob();
}

export async function downloadArtifact(client: OcrClient, id: string): Promise<void> {
  const source = await artifactSource(client, id);
  if (source.inline) return saveBlob(await artifactBlob(client, source), source.artifact.name);
  if (!source.url) throw new Error('the artifact has no content yet');
  // The presigned URL carries Content-Disposition: attachment, so navigating to it downloads.
  const a = document.createElement('a');
  a.href = source.url;
  a.rel = 'noopener';
  a.download = source.artifact.name;
  document.body.append(a);
  a.click();
  a.remove();
}
