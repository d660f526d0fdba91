import type { S3Server } from '../../infra/s3-server';

/** Object keys under a prefix, straight from the S3 API (ListObjectsV2), independent of septflow's clients. */
export async function listKeys(s3: S3Server, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
    const xml = await (await fetch(`${s3.endpoint}/${bucket}?${query}`)).text();
    keys.push(...[...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]));
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]+)</.exec(xml)?.[1] : undefined;
  } while (token);
  return keys;
}
